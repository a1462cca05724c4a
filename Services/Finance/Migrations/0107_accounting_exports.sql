-- Accounting exports stored for review (the monthly job's): one row per org, kind and period,
-- its file in chunks written as it was produced, with the row count, size and SHA-256 set when
-- it is complete (in the same transaction). Nothing is changed afterwards.
CREATE TABLE accounting_exports (
    org_id text NOT NULL,
    id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('accounting', 'payments', 'customers')),
    period_from timestamptz NOT NULL,
    period_to timestamptz NOT NULL CHECK (period_to > period_from),
    row_count bigint CHECK (row_count >= 0),
    byte_count bigint CHECK (byte_count >= 0),
    sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, kind, period_from, period_to)
);
SELECT enable_tenant_isolation('accounting_exports', operator_read => true);

CREATE TABLE accounting_export_chunks (
    org_id text NOT NULL,
    export_id text NOT NULL,
    sequence integer NOT NULL CHECK (sequence > 0),
    bytes bytea NOT NULL,
    PRIMARY KEY (org_id, export_id, sequence),
    FOREIGN KEY (org_id, export_id) REFERENCES accounting_exports (org_id, id)
);
SELECT enable_tenant_isolation('accounting_export_chunks');
REVOKE DELETE, TRUNCATE ON accounting_exports, accounting_export_chunks FROM CURRENT_USER;
