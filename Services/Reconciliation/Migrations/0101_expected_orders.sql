-- Orders reconciliation expects money for: the first leg of order ↔ payment ↔ payout ↔ bank line.
CREATE TABLE expected_orders (
    org_id text NOT NULL,
    order_id text NOT NULL,
    total_minor bigint NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    payment_ref text,
    placed_at timestamptz NOT NULL,
    -- The canonical order.placed event it was recorded from.
    source_event_id text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, order_id)
);
SELECT enable_tenant_isolation('expected_orders');
