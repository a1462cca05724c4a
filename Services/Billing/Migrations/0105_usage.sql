-- Usage events as the product backend reported them, once per transaction id: the truth the
-- usage report counts again.
CREATE TABLE usage_events (
    org_id text NOT NULL,
    transaction_id text NOT NULL,
    provider text NOT NULL,
    subscription_id text NOT NULL,
    metric text NOT NULL,
    quantity bigint NOT NULL CHECK (quantity >= 0),
    month text NOT NULL,
    recorded_at timestamptz NOT NULL,
    event_id text NOT NULL,
    PRIMARY KEY (org_id, transaction_id)
);
CREATE INDEX usage_events_by_month ON usage_events (org_id, month, provider, subscription_id);
SELECT enable_tenant_isolation('usage_events');

-- The running counters per subscription, metric and month: the projection the report checks
-- against the events (drift) and billing sync rebuilds.
CREATE TABLE usage_counters (
    org_id text NOT NULL,
    provider text NOT NULL,
    subscription_id text NOT NULL,
    metric text NOT NULL,
    month text NOT NULL,
    quantity bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, provider, subscription_id, metric, month)
);
SELECT enable_tenant_isolation('usage_counters');
