-- Sources: one tenant's endpoint for one provider, and its secrets (encrypted at rest).

-- Routes a public webhook request to its org. Holds no secret, so it needs no tenant context:
-- the gateway reads it before it knows which org a request belongs to.
CREATE TABLE source_directory (
    source_id text PRIMARY KEY,
    org_id text NOT NULL
);

CREATE TABLE sources (
    id text PRIMARY KEY REFERENCES source_directory (source_id),
    org_id text NOT NULL,
    provider text NOT NULL CHECK (provider IN ('stripe', 'paddle', 'hotmart', 'standard', 'internal')),
    name text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    tolerance_seconds integer NOT NULL DEFAULT 300 CHECK (tolerance_seconds BETWEEN 1 AND 3600),
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);
ALTER TABLE sources ENABLE ROW LEVEL SECURITY;
ALTER TABLE sources FORCE ROW LEVEL SECURITY;
CREATE POLICY sources_tenant ON sources
    USING (org_id = current_setting('tally.org_id', true))
    WITH CHECK (org_id = current_setting('tally.org_id', true));

-- AES-GCM sealed boxes; the key comes from TALLY_SECRETS_KEY and never reaches the database.
CREATE TABLE source_secrets (
    id text PRIMARY KEY,
    source_id text NOT NULL REFERENCES sources (id),
    org_id text NOT NULL,
    sealed bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);
CREATE INDEX source_secrets_by_source ON source_secrets (source_id);
ALTER TABLE source_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE source_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY source_secrets_tenant ON source_secrets
    USING (org_id = current_setting('tally.org_id', true))
    WITH CHECK (org_id = current_setting('tally.org_id', true));
