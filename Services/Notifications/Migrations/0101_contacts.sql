-- Contact details of provider customers, kept from `customer.upserted` and nowhere else. Personal
-- data: erasure deletes the row (docs/privacy.md). A delivery for a customer reads its address
-- here when it is sent, so a changed or erased address is never used from a stale copy.
CREATE TABLE contacts (
    org_id text NOT NULL,
    provider text NOT NULL,
    customer_id text NOT NULL,
    email text,
    phone text,
    name text,
    locale text,
    -- When the provider said so (the event's occurred_at): an older upsert never overwrites a newer one.
    source_time timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, provider, customer_id)
);
SELECT enable_tenant_isolation('contacts');
