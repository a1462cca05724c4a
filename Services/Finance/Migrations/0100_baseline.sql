-- The finance schema: the double-entry ledger, invoices with tax snapshots, payments, refunds, credit notes.
-- Platform tables (outbox, inbox, audit_log) come from the Storage library as versions 1-3;
-- this service's own tables arrive with its business logic, as migrations numbered from 0101.
COMMENT ON SCHEMA finance IS 'Tally finance: the double-entry ledger, invoices with tax snapshots, payments, refunds, credit notes';
