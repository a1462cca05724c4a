-- Ordering fences: the newest provider version applied per state-bearing object (subscriptions,
-- invoices). An event older than the fence is recorded as superseded and not emitted.
CREATE TABLE object_versions (
    org_id text NOT NULL,
    provider text NOT NULL,
    object_kind text NOT NULL CHECK (object_kind IN ('subscription', 'invoice')),
    object_id text NOT NULL,
    version timestamptz NOT NULL,
    canonical_event_id text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, provider, object_kind, object_id)
);
ALTER TABLE object_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE object_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY object_versions_tenant ON object_versions
    USING (org_id = current_setting('tally.org_id', true))
    WITH CHECK (org_id = current_setting('tally.org_id', true));

-- Lineage keeps canonical events that were derived but not emitted because a newer version of
-- their object had already been applied.
ALTER TABLE lineage ADD COLUMN disposition text NOT NULL DEFAULT 'emitted' CHECK (disposition IN ('emitted', 'superseded'));

ALTER TABLE raw_outcomes DROP CONSTRAINT raw_outcomes_outcome_check;
ALTER TABLE raw_outcomes ADD CONSTRAINT raw_outcomes_outcome_check CHECK (outcome IN ('processed', 'ignored', 'failed', 'superseded'));
