-- Payouts: the provider's deposits to the org's bank, each posted once.
CREATE TABLE payouts (
    org_id text NOT NULL,
    provider text NOT NULL,
    payout_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('paid', 'failed', 'canceled')),
    amount_minor bigint NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    fees_minor bigint,
    arrival_date date NOT NULL,
    occurred_at timestamptz NOT NULL,
    payment_refs text[] NOT NULL DEFAULT '{}',
    transaction_id bigint REFERENCES ledger_transactions (id),
    PRIMARY KEY (org_id, provider, payout_id)
);
CREATE INDEX payouts_by_time ON payouts (org_id, occurred_at, provider, payout_id);
SELECT enable_tenant_isolation('payouts');
