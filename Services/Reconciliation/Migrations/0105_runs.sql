-- Runs: the scheduled and manual re-checks of windows and aging, one row each per org.
CREATE TABLE sync_runs (
    org_id text NOT NULL,
    run_id text NOT NULL,
    trigger text NOT NULL CHECK (trigger IN ('scheduled', 'manual')),
    started_at timestamptz NOT NULL,
    ended_at timestamptz NOT NULL,
    items_checked integer NOT NULL,
    opened integer NOT NULL,
    resolved integer NOT NULL,
    errors integer NOT NULL,
    -- The staff subject who asked for a manual run.
    requested_by text,
    PRIMARY KEY (org_id, run_id)
);
CREATE INDEX sync_runs_recent ON sync_runs (org_id, started_at DESC, run_id DESC);
SELECT enable_tenant_isolation('sync_runs');

-- When each org's earliest expected check turns mismatched: what the scheduled run reads across
-- orgs (the only cross-org read, so operator reads are on this small table alone).
CREATE TABLE org_deadlines (
    org_id text PRIMARY KEY,
    next_due_at timestamptz
);
CREATE INDEX org_deadlines_due ON org_deadlines (next_due_at) WHERE next_due_at IS NOT NULL;
SELECT enable_tenant_isolation('org_deadlines', operator_read => true);
