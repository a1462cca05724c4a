-- What matching keeps: its settings per org, every check's latest state, and the discrepancies
-- (one per check and reason) with the people working them.
CREATE TABLE matching_settings (
    org_id text PRIMARY KEY,
    -- {"USD": 1}: how far amounts may differ per currency, in minor units. Empty: exact.
    tolerances jsonb NOT NULL DEFAULT '{}',
    payment_window_seconds integer NOT NULL DEFAULT 3600 CHECK (payment_window_seconds BETWEEN 0 AND 2592000),
    payout_window_days integer NOT NULL DEFAULT 7 CHECK (payout_window_days BETWEEN 0 AND 60),
    settlement_window_days integer NOT NULL DEFAULT 3 CHECK (settlement_window_days BETWEEN 0 AND 60),
    updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT enable_tenant_isolation('matching_settings');

CREATE TABLE checks (
    org_id text NOT NULL,
    check_key text NOT NULL,
    leg text NOT NULL CHECK (leg IN ('order_payment', 'payment_payout', 'payout_bank', 'refunds')),
    subject text NOT NULL,
    counterparts text[] NOT NULL,
    status text NOT NULL CHECK (status IN ('matched', 'expected', 'mismatched')),
    reason text,
    expected_until timestamptz,
    expected_minor bigint,
    expected_currency text,
    actual_minor bigint,
    actual_currency text,
    order_id text,
    -- The subject's business day: what the daily summary groups by.
    day date NOT NULL,
    revision integer NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, check_key),
    CHECK ((status = 'mismatched') = (reason IS NOT NULL)),
    CHECK ((status = 'expected') = (expected_until IS NOT NULL))
);
CREATE INDEX checks_by_order ON checks (org_id, order_id) WHERE order_id IS NOT NULL;
CREATE INDEX checks_by_subject ON checks (org_id, subject);
CREATE INDEX checks_waiting ON checks (org_id, expected_until) WHERE status = 'expected';
SELECT enable_tenant_isolation('checks');

CREATE TABLE discrepancies (
    org_id text NOT NULL,
    discrepancy_id text NOT NULL,
    check_key text NOT NULL,
    reason text NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'resolved')),
    revision integer NOT NULL,
    first_opened_at timestamptz NOT NULL,
    opened_at timestamptz NOT NULL,
    resolved_at timestamptz,
    resolved_by text CHECK (resolved_by IN ('matching', 'manual')),
    owner text,
    -- The check as it was when it last opened.
    leg text NOT NULL,
    subject text NOT NULL,
    counterparts text[] NOT NULL,
    expected_minor bigint,
    expected_currency text,
    actual_minor bigint,
    actual_currency text,
    order_id text,
    day date NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, discrepancy_id),
    UNIQUE (org_id, check_key, reason),
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL AND resolved_by IS NOT NULL))
);
CREATE INDEX discrepancies_open ON discrepancies (org_id, status, opened_at, discrepancy_id);
SELECT enable_tenant_isolation('discrepancies');

-- What people wrote while working a discrepancy; never edited.
CREATE TABLE discrepancy_comments (
    org_id text NOT NULL,
    comment_id bigint GENERATED ALWAYS AS IDENTITY,
    discrepancy_id text NOT NULL,
    author text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, comment_id),
    FOREIGN KEY (org_id, discrepancy_id) REFERENCES discrepancies (org_id, discrepancy_id)
);
SELECT enable_tenant_isolation('discrepancy_comments');
