-- The notifications schema: deliveries, attempts and dead letters of outgoing notifications.
-- Platform tables and functions (outbox, inbox, audit_log, enable_tenant_isolation) come from the
-- Storage library as versions 1-99 (PlatformMigrations.swift);
-- this service's own tables arrive with its business logic, as migrations numbered from 0101.
-- The schema name comes from the migration's search_path, so the file does not hard-code it.
DO $$ BEGIN
    EXECUTE format('COMMENT ON SCHEMA %I IS %L', current_schema(), 'Tally notifications: deliveries, attempts and dead letters of outgoing notifications');
END $$;
