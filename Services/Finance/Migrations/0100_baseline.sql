-- The finance schema: the double-entry ledger, payments, refunds and payouts (invoices and credit notes come with Finance II).
-- Platform tables and functions (outbox, inbox, audit_log, enable_tenant_isolation) come from the
-- Storage library as versions 1-99 (PlatformMigrations.swift);
-- this service's own tables arrive with its business logic, as migrations numbered from 0101.
-- The schema name comes from the migration's search_path, so the file does not hard-code it.
DO $$ BEGIN
    EXECUTE format('COMMENT ON SCHEMA %I IS %L', current_schema(), 'Tally finance: the double-entry ledger, invoices with tax snapshots, payments, refunds, credit notes');
END $$;
