-- Raw → canonical lineage: which canonical events each gateway inbox row produced, and what
-- became of rows that produced none.
CREATE TABLE lineage (
    canonical_event_id text PRIMARY KEY,
    org_id text NOT NULL,
    source_inbox_id text NOT NULL,
    position integer NOT NULL,
    event_type text NOT NULL,
    provider text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lineage_by_inbox ON lineage (org_id, source_inbox_id);
ALTER TABLE lineage ENABLE ROW LEVEL SECURITY;
ALTER TABLE lineage FORCE ROW LEVEL SECURITY;
CREATE POLICY lineage_tenant ON lineage
    USING (org_id = current_setting('tally.org_id', true))
    WITH CHECK (org_id = current_setting('tally.org_id', true));

-- One row per raw webhook event handled: its outcome and why.
CREATE TABLE raw_outcomes (
    raw_event_id text PRIMARY KEY,
    org_id text NOT NULL,
    source_inbox_id text NOT NULL,
    provider text NOT NULL,
    provider_event_type text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('processed', 'ignored', 'failed')),
    reason text,
    received_at timestamptz NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX raw_outcomes_report ON raw_outcomes (org_id, provider, received_at);
ALTER TABLE raw_outcomes ENABLE ROW LEVEL SECURITY;
ALTER TABLE raw_outcomes FORCE ROW LEVEL SECURITY;
CREATE POLICY raw_outcomes_tenant ON raw_outcomes
    USING (org_id = current_setting('tally.org_id', true))
    WITH CHECK (org_id = current_setting('tally.org_id', true));
