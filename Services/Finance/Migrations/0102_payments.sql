-- Payments as finance projects them from the canonical payment events, their timelines, and
-- the events held until the one they depend on arrives.
CREATE TABLE payments (
    org_id text NOT NULL,
    provider text NOT NULL,
    payment_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('processing', 'succeeded', 'failed', 'partially_refunded', 'refunded', 'disputed')),
    currency text CHECK (currency ~ '^[A-Z]{3}$'),
    intended_minor bigint,
    captured_at timestamptz,
    captured_minor bigint NOT NULL DEFAULT 0 CHECK (captured_minor >= 0),
    fee_minor bigint NOT NULL DEFAULT 0,
    refunded_minor bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= captured_minor),
    attempt_failed boolean NOT NULL DEFAULT false,
    -- [{dispute_id, amount_minor, status: open|won|lost}]
    disputes jsonb NOT NULL DEFAULT '[]',
    customer_ref text,
    order_ref text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, provider, payment_id)
);
CREATE INDEX payments_by_status ON payments (org_id, status, provider, payment_id);
SELECT enable_tenant_isolation('payments', operator_read => true);

-- Every canonical event a payment received, in arrival order, with what it did.
CREATE TABLE payment_events (
    org_id text NOT NULL,
    event_id text NOT NULL,
    provider text NOT NULL,
    payment_id text NOT NULL,
    event_type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    transaction_id bigint REFERENCES ledger_transactions (id),
    note text,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (org_id, event_id)
);
CREATE INDEX payment_events_timeline ON payment_events (org_id, provider, payment_id, recorded_at);
SELECT enable_tenant_isolation('payment_events');

-- Events that arrived before their predecessor (a refund before its capture). Decided again
-- whenever the payment changes; released once applied.
CREATE TABLE held_events (
    org_id text NOT NULL,
    event_id text NOT NULL,
    provider text NOT NULL,
    payment_id text NOT NULL,
    event_type text NOT NULL,
    reason text NOT NULL,
    occurred_at timestamptz NOT NULL,
    envelope bytea NOT NULL,
    held_at timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz,
    PRIMARY KEY (org_id, event_id)
);
CREATE INDEX held_events_waiting ON held_events (org_id, provider, payment_id, occurred_at) WHERE released_at IS NULL;
SELECT enable_tenant_isolation('held_events', operator_read => true);
