-- Invoices Tally numbers and issues, their lines and tax snapshots, the payments that settle
-- them, their credit notes, the provider invoices recorded beside them, and the org's settings.
-- An invoice's number, lines and amounts are written once: a trigger refuses any change to them
-- (only the paid and credited amounts, the status and a void move afterwards).

ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check CHECK (kind IN (
    'capture', 'refund', 'dispute_opened', 'dispute_won', 'dispute_lost', 'payout',
    'invoice_issued', 'invoice_settled', 'invoice_voided', 'credit_note'));

-- What the org issues under: the rate a captured amount without an order includes, and the days
-- to pay. Read at issue only; an issued invoice keeps what it was issued with.
CREATE TABLE invoice_settings (
    org_id text PRIMARY KEY,
    tax_rate_bps integer NOT NULL CHECK (tax_rate_bps BETWEEN 0 AND 10000),
    payment_terms_days integer NOT NULL CHECK (payment_terms_days BETWEEN 0 AND 365),
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL
);
SELECT enable_tenant_isolation('invoice_settings');

-- The last number used per org and UTC day. Moved in the issuing transaction, so numbers are
-- gapless; never moved back, so a number is never used twice.
CREATE TABLE invoice_number_days (
    org_id text NOT NULL,
    day text NOT NULL CHECK (day ~ '^[0-9]{8}$'),
    last_number integer NOT NULL CHECK (last_number > 0),
    PRIMARY KEY (org_id, day)
);
SELECT enable_tenant_isolation('invoice_number_days');

CREATE TABLE invoices (
    org_id text NOT NULL,
    id text NOT NULL,
    number text NOT NULL CHECK (number ~ '^INV-[0-9]{8}-[0-9]{4,}$'),
    source text NOT NULL CHECK (source IN ('order', 'payment')),
    order_id text,
    payment_ref text,
    payment_provider text,
    payment_id text,
    customer_provider text NOT NULL,
    customer_ref text,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    subtotal_minor bigint NOT NULL CHECK (subtotal_minor >= 0),
    taxable_subtotal_minor bigint NOT NULL CHECK (taxable_subtotal_minor BETWEEN 0 AND subtotal_minor),
    tax_minor bigint NOT NULL CHECK (tax_minor >= 0),
    total_minor bigint NOT NULL CHECK (total_minor > 0 AND total_minor = subtotal_minor + tax_minor),
    tax_rate_basis_bps integer NOT NULL CHECK (tax_rate_basis_bps >= 0),
    issued_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL CHECK (due_at >= issued_at),
    status text NOT NULL CHECK (status IN ('issued', 'partial', 'paid', 'overdue', 'void')),
    paid_minor bigint NOT NULL DEFAULT 0 CHECK (paid_minor >= 0),
    credited_minor bigint NOT NULL DEFAULT 0 CHECK (credited_minor BETWEEN 0 AND total_minor),
    issue_transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
    void_reason text,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, number),
    CHECK ((source = 'order') = (order_id IS NOT NULL)),
    CHECK ((source = 'payment') = (payment_id IS NOT NULL AND payment_provider IS NOT NULL)),
    CHECK (status <> 'void' OR paid_minor = 0)
);
CREATE UNIQUE INDEX invoices_one_per_order ON invoices (org_id, order_id) WHERE source = 'order';
CREATE UNIQUE INDEX invoices_one_per_payment ON invoices (org_id, payment_provider, payment_id) WHERE source = 'payment';
CREATE INDEX invoices_by_payment_ref ON invoices (org_id, payment_ref) WHERE payment_ref IS NOT NULL;
CREATE INDEX invoices_by_issue ON invoices (org_id, issued_at, id);
CREATE INDEX invoices_by_status ON invoices (org_id, status, due_at);
SELECT enable_tenant_isolation('invoices', operator_read => true);

CREATE TABLE invoice_lines (
    org_id text NOT NULL,
    invoice_id text NOT NULL,
    line integer NOT NULL CHECK (line > 0),
    sku text NOT NULL,
    description text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
    net_minor bigint NOT NULL CHECK (net_minor >= 0),
    tax_rate_bps integer NOT NULL CHECK (tax_rate_bps BETWEEN 0 AND 10000),
    tax_minor bigint NOT NULL CHECK (tax_minor >= 0),
    total_minor bigint NOT NULL CHECK (total_minor = net_minor + tax_minor),
    PRIMARY KEY (org_id, invoice_id, line),
    FOREIGN KEY (org_id, invoice_id) REFERENCES invoices (org_id, id)
);
SELECT enable_tenant_isolation('invoice_lines', operator_read => true);

-- The snapshot is written once: lines never change, and an invoice's number and amounts neither.
CREATE FUNCTION invoice_snapshot_is_immutable() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    IF TG_TABLE_NAME = 'invoice_lines' OR TG_OP = 'DELETE'
        OR (NEW.number, NEW.source, NEW.order_id, NEW.payment_provider, NEW.payment_id, NEW.currency, NEW.subtotal_minor, NEW.taxable_subtotal_minor,
            NEW.tax_minor, NEW.total_minor, NEW.tax_rate_basis_bps, NEW.issued_at, NEW.due_at, NEW.issue_transaction_id)
           IS DISTINCT FROM
           (OLD.number, OLD.source, OLD.order_id, OLD.payment_provider, OLD.payment_id, OLD.currency, OLD.subtotal_minor, OLD.taxable_subtotal_minor,
            OLD.tax_minor, OLD.total_minor, OLD.tax_rate_basis_bps, OLD.issued_at, OLD.due_at, OLD.issue_transaction_id)
    THEN
        RAISE EXCEPTION 'an issued invoice''s number, lines and tax snapshot never change: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $fn$;
CREATE TRIGGER invoices_snapshot_immutable BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoice_snapshot_is_immutable();
CREATE TRIGGER invoice_lines_immutable BEFORE UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION invoice_snapshot_is_immutable();

-- Each payment applied to an invoice, once, with its settlement transaction.
CREATE TABLE invoice_payments (
    org_id text NOT NULL,
    invoice_id text NOT NULL,
    provider text NOT NULL,
    payment_id text NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
    settled_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, invoice_id, provider, payment_id),
    FOREIGN KEY (org_id, invoice_id) REFERENCES invoices (org_id, id)
);
CREATE INDEX invoice_payments_by_payment ON invoice_payments (org_id, provider, payment_id);
SELECT enable_tenant_isolation('invoice_payments', operator_read => true);

CREATE TABLE credit_notes (
    org_id text NOT NULL,
    id text NOT NULL,
    invoice_id text NOT NULL,
    number text NOT NULL,
    ordinal integer NOT NULL CHECK (ordinal > 0),
    refund_transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
    net_minor bigint NOT NULL CHECK (net_minor >= 0),
    tax_minor bigint NOT NULL CHECK (tax_minor >= 0),
    total_minor bigint NOT NULL CHECK (total_minor > 0 AND total_minor = net_minor + tax_minor),
    reason text,
    transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, number),
    UNIQUE (org_id, invoice_id, ordinal),
    UNIQUE (org_id, refund_transaction_id),
    FOREIGN KEY (org_id, invoice_id) REFERENCES invoices (org_id, id)
);
SELECT enable_tenant_isolation('credit_notes', operator_read => true);
REVOKE UPDATE, DELETE, TRUNCATE ON credit_notes, invoice_lines FROM CURRENT_USER;

-- Invoices a provider numbered (Stripe's `invoice.paid` / `invoice.payment_failed`): recorded and
-- linked to their subscription and payment, never numbered again by Tally.
CREATE TABLE provider_invoices (
    org_id text NOT NULL,
    provider text NOT NULL,
    invoice_id text NOT NULL,
    number text,
    status text NOT NULL CHECK (status IN ('paid', 'payment_failed')),
    subscription_ref text,
    customer_ref text,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor bigint NOT NULL,
    payment_ref text,
    attempt_count integer,
    occurred_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, provider, invoice_id)
);
SELECT enable_tenant_isolation('provider_invoices', operator_read => true);
