-- Each billing sync: when it ran, who asked, what it looked at and what differed.
CREATE TABLE sync_runs (
    org_id text NOT NULL,
    id uuid NOT NULL,
    actor text NOT NULL,
    status text NOT NULL CHECK (status IN ('completed', 'failed')),
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    items_processed integer NOT NULL,
    difference_count integer NOT NULL,
    differences jsonb NOT NULL,
    errors jsonb NOT NULL,
    PRIMARY KEY (org_id, id)
);
SELECT enable_tenant_isolation('sync_runs');
