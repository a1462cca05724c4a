-- The notifications schema: deliveries, attempts and dead letters of outgoing notifications.
-- Platform tables (outbox, inbox, audit_log) come from the Storage library as versions 1-3;
-- this service's own tables arrive with its business logic, as migrations numbered from 0101.
-- The schema name comes from the migration's search_path, so the file does not hard-code it.
DO $$ BEGIN
    EXECUTE format('COMMENT ON SCHEMA %I IS %L', current_schema(), 'Tally notifications: deliveries, attempts and dead letters of outgoing notifications');
END $$;
