-- The webhook inbox: every accepted webhook, byte for byte, and what became of it.
CREATE TABLE webhook_inbox (
    id uuid PRIMARY KEY,
    org_id text NOT NULL,
    source_id text NOT NULL REFERENCES sources (id),
    provider text NOT NULL,
    provider_event_id text NOT NULL,
    provider_event_type text NOT NULL,
    trust text NOT NULL CHECK (trust IN ('verified', 'low')),
    content_type text NOT NULL,
    body bytea NOT NULL,
    body_sha256 text NOT NULL,
    -- The headers needed to verify the request again (never a secret).
    headers jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'published', 'processed', 'ignored', 'failed')),
    status_reason text,
    received_at timestamptz NOT NULL DEFAULT now(),
    status_changed_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_id, provider_event_id)
);
CREATE INDEX webhook_inbox_listing ON webhook_inbox (org_id, received_at DESC, id);
ALTER TABLE webhook_inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_inbox FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_inbox_tenant ON webhook_inbox
    USING (org_id = current_setting('tally.org_id', true))
    WITH CHECK (org_id = current_setting('tally.org_id', true));
-- Operational aggregates (inbox rows per status) read across orgs, explicitly and read-only.
CREATE POLICY webhook_inbox_operator_read ON webhook_inbox FOR SELECT
    USING (current_setting('tally.scope', true) = 'operator');

-- A duplicate delivery whose body differs from the stored one: kept for operators.
CREATE TABLE webhook_conflicts (
    id bigserial PRIMARY KEY,
    org_id text NOT NULL,
    inbox_id uuid NOT NULL REFERENCES webhook_inbox (id),
    source_id text NOT NULL,
    provider_event_id text NOT NULL,
    body_sha256 text NOT NULL,
    body_size integer NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE webhook_conflicts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_conflicts FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_conflicts_tenant ON webhook_conflicts
    USING (org_id = current_setting('tally.org_id', true))
    WITH CHECK (org_id = current_setting('tally.org_id', true));

-- Refused requests, metadata only (never the body or a secret). Bounded by the gateway.
CREATE TABLE refused_requests (
    id bigserial PRIMARY KEY,
    org_id text,
    source_id text NOT NULL,
    reason text NOT NULL,
    http_status integer NOT NULL,
    body_size integer NOT NULL,
    body_sha256 text,
    remote_address text,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refused_requests_recent ON refused_requests (received_at DESC);
-- Anyone may add a refusal (the org may be unknown); each org reads only its own.
ALTER TABLE refused_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE refused_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY refused_requests_read ON refused_requests FOR SELECT
    USING (org_id = current_setting('tally.org_id', true));
CREATE POLICY refused_requests_insert ON refused_requests FOR INSERT WITH CHECK (true);
-- The gateway trims the oldest rows to keep the log bounded.
CREATE POLICY refused_requests_trim ON refused_requests FOR DELETE USING (true);
