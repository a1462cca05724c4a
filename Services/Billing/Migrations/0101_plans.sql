-- The plan catalog: immutable versions per (org, code); a change to a plan inserts the next
-- version, and subscriptions keep the version they were put on.
CREATE TABLE plan_versions (
    org_id text NOT NULL,
    code text NOT NULL,
    version integer NOT NULL CHECK (version >= 1),
    name text NOT NULL,
    interval_unit text NOT NULL CHECK (interval_unit IN ('day', 'week', 'month', 'year')),
    interval_count integer NOT NULL CHECK (interval_count BETWEEN 1 AND 36),
    -- Price per interval in minor units, by currency: {"USD": 4900}.
    prices jsonb NOT NULL,
    -- Limits per metric: {"seats": 5}.
    limits jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    PRIMARY KEY (org_id, code, version)
);
SELECT enable_tenant_isolation('plan_versions');

-- Which plan a provider's price or plan id means. A subscription whose provider plan has no row
-- here is kept with no plan (listed as unmapped), never guessed.
CREATE TABLE price_mappings (
    org_id text NOT NULL,
    provider text NOT NULL,
    provider_plan text NOT NULL,
    plan_code text NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL,
    PRIMARY KEY (org_id, provider, provider_plan)
);
SELECT enable_tenant_isolation('price_mappings');
