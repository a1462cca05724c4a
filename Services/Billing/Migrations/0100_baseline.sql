-- The billing schema: plans, subscriptions, pause/resume history, dunning state, usage.
-- Platform tables (outbox, inbox, audit_log) come from the Storage library as versions 1-3;
-- this service's own tables arrive with its business logic, as migrations numbered from 0101.
COMMENT ON SCHEMA billing IS 'Tally billing: plans, subscriptions, pause/resume history, dunning state, usage';
