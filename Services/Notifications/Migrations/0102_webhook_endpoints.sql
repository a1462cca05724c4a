-- HTTPS endpoints a tenant registered to receive its notifications as signed webhooks. The
-- signing secret is shown once, when the endpoint is created, and never again; it is kept sealed
-- (AES-256-GCM under TALLY_SECRETS_KEY, as the gateway keeps source secrets).
CREATE TABLE webhook_endpoints (
    org_id text NOT NULL,
    id text NOT NULL,
    url text NOT NULL CHECK (char_length(url) <= 2048),
    secret_sealed bytea NOT NULL,
    description text CHECK (char_length(description) <= 200),
    status text NOT NULL CHECK (status IN ('active', 'disabled')),
    disabled_reason text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id)
);
SELECT enable_tenant_isolation('webhook_endpoints');
