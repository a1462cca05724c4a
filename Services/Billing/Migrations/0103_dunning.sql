-- An org's overdue policy; an org without a row uses the standard one (day 0 notice, 3 reminder,
-- 7 block, 14 final notice).
CREATE TABLE dunning_policies (
    org_id text PRIMARY KEY,
    steps jsonb NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL
);
SELECT enable_tenant_isolation('dunning_policies');

-- Provider invoices whose payment failed, until paid. A second failure of the same invoice keeps
-- the first failure's time: dunning days count from it.
CREATE TABLE dunning_invoices (
    org_id text NOT NULL,
    provider text NOT NULL,
    invoice_id text NOT NULL,
    subscription_id text,
    customer_ref text,
    invoice_number text,
    amount_minor bigint NOT NULL,
    currency text NOT NULL,
    failed_at timestamptz,
    paid_at timestamptz,
    cause_event_id text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, provider, invoice_id)
);
CREATE INDEX dunning_invoices_open ON dunning_invoices (org_id, provider, subscription_id) WHERE paid_at IS NULL AND failed_at IS NOT NULL;
SELECT enable_tenant_isolation('dunning_invoices', operator_read => true);

-- Each dunning step done for an invoice, once: the primary key is what keeps a step from running
-- twice across restarts and replicas (the step and its notification request commit together).
CREATE TABLE dunning_steps (
    org_id text NOT NULL,
    provider text NOT NULL,
    invoice_id text NOT NULL,
    action text NOT NULL CHECK (action IN ('notice', 'reminder', 'block', 'final_notice')),
    disposition text NOT NULL CHECK (disposition IN ('sent', 'skipped')),
    day integer NOT NULL,
    dedupe_key text NOT NULL,
    done_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, provider, invoice_id, action)
);
SELECT enable_tenant_isolation('dunning_steps');
