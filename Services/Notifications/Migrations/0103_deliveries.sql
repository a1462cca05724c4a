-- One row per requested notification: unique per (org, dedupe key), so a request published twice,
-- or a replay of the requests topic, creates nothing new.
--
-- Statuses: scheduled (waiting for its time) → sending (claimed by one worker until lease_until)
-- → sent | retrying (next_attempt_at) | dead | undeliverable. A dead delivery may be replayed by
-- a person (back to scheduled, with a new round of attempts).
CREATE TABLE deliveries (
    org_id text NOT NULL,
    id uuid NOT NULL,
    dedupe_key text NOT NULL CHECK (char_length(dedupe_key) BETWEEN 1 AND 200),
    template_key text NOT NULL,
    channels text[] NOT NULL,
    -- The request's recipient: a customer reference, or explicit contact details (personal data).
    recipient jsonb NOT NULL,
    locale text,
    variables jsonb NOT NULL,
    not_before timestamptz,
    cause_type text NOT NULL,
    cause_event_id text NOT NULL,
    correlation_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('scheduled', 'sending', 'retrying', 'sent', 'dead', 'undeliverable')),
    channel text,
    provider text,
    offline boolean NOT NULL DEFAULT false,
    attempts integer NOT NULL DEFAULT 0,
    -- Attempts since the last replay; `max attempts` applies to a round.
    round integer NOT NULL DEFAULT 1,
    round_attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until timestamptz,
    claimed_by text,
    -- A pseudonymous key of the address last used (sha256), for the per-recipient limit.
    recipient_key text,
    last_reason text,
    last_detail text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    finished_at timestamptz,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, dedupe_key)
);
-- The worker's queue: what is due, across orgs (read with the operator scope, claimed per org).
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('scheduled', 'retrying');
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'sending';
-- Admin lists: newest first, by status and channel.
CREATE INDEX deliveries_by_created ON deliveries (org_id, created_at DESC, id DESC);
CREATE INDEX deliveries_by_status ON deliveries (org_id, status, created_at DESC, id DESC);
-- Waiting for a customer's contact details.
CREATE INDEX deliveries_by_customer ON deliveries (org_id, ((recipient -> 'customer' ->> 'provider')), ((recipient -> 'customer' ->> 'customer_id')))
    WHERE status IN ('scheduled', 'retrying');
SELECT enable_tenant_isolation('deliveries', operator_read => true);

-- Every attempt: when, through which provider, and how it ended. No message body, no address,
-- no secret. An attempt is written as `in_flight` when claimed, before anything is sent; one
-- still in flight when its lease expired is marked `abandoned` (the outcome is unknown: the
-- message may have been accepted) and the delivery is attempted again.
CREATE TABLE delivery_attempts (
    org_id text NOT NULL,
    delivery_id uuid NOT NULL,
    number integer NOT NULL CHECK (number > 0),
    channel text,
    provider text,
    outcome text NOT NULL CHECK (outcome IN ('in_flight', 'delivered', 'delivered_offline', 'transient', 'permanent', 'endpoint_gone', 'abandoned', 'deferred')),
    reply_code text,
    reason text,
    detail text,
    recipient_key text,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    PRIMARY KEY (org_id, delivery_id, number),
    FOREIGN KEY (org_id, delivery_id) REFERENCES deliveries (org_id, id) ON DELETE CASCADE
);
-- The per-recipient limit counts what reached one address in the last hour.
CREATE INDEX delivery_attempts_by_recipient ON delivery_attempts (org_id, recipient_key, (coalesce(finished_at, started_at)))
    WHERE outcome IN ('delivered', 'delivered_offline', 'in_flight');
SELECT enable_tenant_isolation('delivery_attempts');

-- What a channel running offline (WhatsApp without a token) would have sent: kept so an operator
-- can see it and it can be sent later. Personal data (the rendered message and the address).
CREATE TABLE offline_messages (
    org_id text NOT NULL,
    delivery_id uuid NOT NULL,
    channel text NOT NULL,
    message jsonb NOT NULL,
    stored_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, delivery_id),
    FOREIGN KEY (org_id, delivery_id) REFERENCES deliveries (org_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_isolation('offline_messages');
