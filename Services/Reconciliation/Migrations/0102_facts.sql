-- The facts matching reads, recorded once each from the consumed events: payments, the money
-- that went back out of them, the providers' payouts and the ledger postings the trail shows.
CREATE TABLE payments (
    org_id text NOT NULL,
    payment_id text NOT NULL,
    provider text NOT NULL,
    amount_minor bigint NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    fee_minor bigint,
    fee_currency text CHECK (fee_currency ~ '^[A-Z]{3}$'),
    -- What the provider pays out for it: amount less a fee in the same currency.
    net_minor bigint NOT NULL,
    order_ref text,
    invoice_ref text,
    subscription_ref text,
    captured_at timestamptz NOT NULL,
    source_event_id text NOT NULL,
    PRIMARY KEY (org_id, payment_id)
);
CREATE INDEX payments_by_order ON payments (org_id, order_ref) WHERE order_ref IS NOT NULL;
CREATE INDEX payments_by_net ON payments (org_id, currency, net_minor, captured_at);
SELECT enable_tenant_isolation('payments');

CREATE INDEX expected_orders_by_payment ON expected_orders (org_id, payment_ref) WHERE payment_ref IS NOT NULL;

CREATE TABLE payment_adjustments (
    org_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('refund', 'dispute', 'dispute_won')),
    adjustment_id text NOT NULL,
    payment_id text NOT NULL,
    -- Positive for money that went back out; a won dispute's is negative (it came back).
    amount_minor bigint NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    occurred_at timestamptz NOT NULL,
    source_event_id text NOT NULL,
    PRIMARY KEY (org_id, kind, adjustment_id)
);
CREATE INDEX payment_adjustments_by_payment ON payment_adjustments (org_id, payment_id);
SELECT enable_tenant_isolation('payment_adjustments');

CREATE TABLE payouts (
    org_id text NOT NULL,
    payout_id text NOT NULL,
    provider text NOT NULL,
    amount_minor bigint NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    fees_minor bigint,
    fees_currency text CHECK (fees_currency ~ '^[A-Z]{3}$'),
    arrival_date date NOT NULL,
    -- The payments it pays out, when the provider lists them.
    payment_refs text[] NOT NULL DEFAULT '{}',
    source_event_id text NOT NULL,
    PRIMARY KEY (org_id, payout_id)
);
CREATE INDEX payouts_by_lower_id ON payouts (org_id, lower(payout_id));
CREATE INDEX payouts_by_payment ON payouts USING gin (payment_refs);
CREATE INDEX payouts_by_amount ON payouts (org_id, currency, amount_minor, arrival_date);
SELECT enable_tenant_isolation('payouts');

CREATE TABLE ledger_transactions (
    org_id text NOT NULL,
    transaction_id bigint NOT NULL,
    sequence bigint NOT NULL,
    key text NOT NULL,
    kind text NOT NULL,
    -- The payment or payout it is about.
    subject text,
    posted_at timestamptz NOT NULL,
    entries jsonb NOT NULL,
    PRIMARY KEY (org_id, transaction_id)
);
CREATE INDEX ledger_transactions_by_subject ON ledger_transactions (org_id, subject);
SELECT enable_tenant_isolation('ledger_transactions');
