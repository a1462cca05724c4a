-- Refunds: what people asked for (four eyes before money moves), and what providers refunded.
CREATE TABLE refund_requests (
    org_id text NOT NULL,
    id text NOT NULL,
    provider text NOT NULL,
    payment_id text NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    reason text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 200),
    status text NOT NULL CHECK (status IN ('pending_approval', 'approved', 'rejected', 'submitted', 'offline', 'failed', 'succeeded')),
    requested_by text NOT NULL,
    decided_by text,
    provider_refund_id text,
    failure text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, provider, payment_id) REFERENCES payments (org_id, provider, payment_id),
    -- Four eyes: nobody approves their own request (withdrawing it, a rejection, is theirs to do).
    CHECK (decided_by IS NULL OR decided_by <> requested_by OR status = 'rejected')
);
CREATE INDEX refund_requests_by_payment ON refund_requests (org_id, provider, payment_id);
CREATE INDEX refund_requests_by_status ON refund_requests (org_id, status, created_at, id);
SELECT enable_tenant_isolation('refund_requests');

-- Each refund a provider made, posted once, and the request it settles (NULL: provider-initiated).
CREATE TABLE provider_refunds (
    org_id text NOT NULL,
    provider text NOT NULL,
    refund_id text NOT NULL,
    payment_id text NOT NULL,
    amount_minor bigint NOT NULL,
    currency text NOT NULL,
    refund_request_id text,
    transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
    PRIMARY KEY (org_id, provider, refund_id)
);
CREATE INDEX provider_refunds_by_payment ON provider_refunds (org_id, provider, payment_id);
SELECT enable_tenant_isolation('provider_refunds');
