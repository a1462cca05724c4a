-- Payment plans: installments of an invoice's outstanding amount or of an amount a customer owes,
-- settled by matching payments or by a person; renegotiated plans and their installments are
-- kept (status renegotiated), never deleted. The reminders sent for overdue installments, once
-- per installment and step.
CREATE TABLE payment_plans (
    org_id text NOT NULL,
    id text NOT NULL,
    invoice_id text,
    customer_ref text,
    customer_provider text NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    total_minor bigint NOT NULL CHECK (total_minor > 0),
    status text NOT NULL CHECK (status IN ('active', 'completed', 'renegotiated')),
    replaces_plan_id text,
    reason text,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, invoice_id) REFERENCES invoices (org_id, id),
    FOREIGN KEY (org_id, replaces_plan_id) REFERENCES payment_plans (org_id, id)
);
-- One active plan per invoice.
CREATE UNIQUE INDEX payment_plans_one_active_per_invoice ON payment_plans (org_id, invoice_id) WHERE status = 'active' AND invoice_id IS NOT NULL;
SELECT enable_tenant_isolation('payment_plans', operator_read => true);

CREATE TABLE installments (
    org_id text NOT NULL,
    plan_id text NOT NULL,
    number integer NOT NULL CHECK (number > 0),
    due_on timestamptz NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    reference text NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'paid', 'renegotiated')),
    paid_at timestamptz,
    paid_by text,
    payment_provider text,
    payment_id text,
    note text,
    PRIMARY KEY (org_id, plan_id, number),
    UNIQUE (org_id, reference),
    FOREIGN KEY (org_id, plan_id) REFERENCES payment_plans (org_id, id),
    CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);
CREATE INDEX installments_open_by_due ON installments (org_id, due_on) WHERE status = 'open';
SELECT enable_tenant_isolation('installments', operator_read => true);

CREATE TABLE installment_reminders (
    org_id text NOT NULL,
    plan_id text NOT NULL,
    number integer NOT NULL,
    step integer NOT NULL,
    requested_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, plan_id, number, step),
    FOREIGN KEY (org_id, plan_id, number) REFERENCES installments (org_id, plan_id, number)
);
SELECT enable_tenant_isolation('installment_reminders');
REVOKE DELETE, TRUNCATE ON payment_plans, installments, installment_reminders FROM CURRENT_USER;
