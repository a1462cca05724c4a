-- One row per provider subscription. `projection` is the fold of the subscription's history
-- (below) and the one source of its state; the other columns are generated from it for lookups,
-- so they can never disagree with it.
CREATE TABLE subscriptions (
    org_id text NOT NULL,
    id uuid NOT NULL,
    provider text NOT NULL,
    subscription_id text NOT NULL,
    projection jsonb NOT NULL,
    status text GENERATED ALWAYS AS (projection ->> 'status') STORED,
    plan_code text GENERATED ALWAYS AS (projection -> 'plan' ->> 'code') STORED,
    customer_ref text GENERATED ALWAYS AS (projection ->> 'customer_ref') STORED,
    provider_plan text GENERATED ALWAYS AS (projection ->> 'provider_plan') STORED,
    -- The entitlement last published on tally.billing.entitlements.v1, and its revision.
    entitlement jsonb NOT NULL,
    entitlement_revision bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, provider, subscription_id)
);
CREATE INDEX subscriptions_by_customer ON subscriptions (org_id, provider, customer_ref);
CREATE INDEX subscriptions_unmapped ON subscriptions (org_id, provider, provider_plan) WHERE plan_code IS NULL;
SELECT enable_tenant_isolation('subscriptions', operator_read => true);

-- Everything that changed a subscription, in the order it was applied: provider facts (with the
-- plan their price mapped to), operator commands, dunning blocks. Rows are never changed; billing
-- sync folds them again to rebuild the projection.
CREATE TABLE subscription_history (
    org_id text NOT NULL,
    seq bigserial NOT NULL,
    subscription uuid NOT NULL,
    kind text NOT NULL,
    change jsonb NOT NULL,
    cause_event_id text,
    actor text,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, seq)
);
CREATE INDEX subscription_history_by_subscription ON subscription_history (org_id, subscription, seq);
SELECT enable_tenant_isolation('subscription_history');
