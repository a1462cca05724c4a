-- The reconciliation schema: matches, discrepancies and sync runs.
-- Platform tables (outbox, inbox, audit_log) come from the Storage library as versions 1-3;
-- this service's own tables arrive with its business logic, as migrations numbered from 0101.
COMMENT ON SCHEMA reconciliation IS 'Tally reconciliation: matches, discrepancies and sync runs';
