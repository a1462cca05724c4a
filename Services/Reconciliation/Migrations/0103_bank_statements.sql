-- The "what was deposited" side: bank accounts, the statements uploaded for them, and their lines.
CREATE TABLE bank_accounts (
    org_id text NOT NULL,
    account_id text NOT NULL CHECK (account_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Days after a payout's arrival date its bank line may still be booked.
    settlement_window_days integer NOT NULL DEFAULT 3 CHECK (settlement_window_days BETWEEN 0 AND 60),
    -- How this bank's CSV exports name their columns (BankCSVMapping), when it sends CSV.
    csv_mapping jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, account_id)
);
SELECT enable_tenant_isolation('bank_accounts');

CREATE TABLE bank_statements (
    org_id text NOT NULL,
    statement_id text NOT NULL,
    account_id text NOT NULL,
    format text NOT NULL CHECK (format IN ('csv', 'camt.053')),
    -- SHA-256 of the uploaded bytes: the same file uploaded again is the same statement.
    content_sha256 text NOT NULL,
    bank_statement_ref text,
    opening_minor bigint NOT NULL,
    closing_minor bigint NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    line_count integer NOT NULL,
    new_line_count integer NOT NULL,
    uploaded_at timestamptz NOT NULL,
    uploaded_by text NOT NULL,
    PRIMARY KEY (org_id, statement_id),
    UNIQUE (org_id, content_sha256),
    FOREIGN KEY (org_id, account_id) REFERENCES bank_accounts (org_id, account_id)
);
SELECT enable_tenant_isolation('bank_statements');

CREATE TABLE bank_lines (
    org_id text NOT NULL,
    account_id text NOT NULL,
    -- The bank's reference for the line: a line is recorded once, whichever statement repeats it.
    bank_reference text NOT NULL,
    statement_id text NOT NULL,
    booked_on date NOT NULL,
    -- Signed: credits positive, debits negative.
    amount_minor bigint NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- The remittance text (may hold a payer's name: personal data, see docs/privacy.md).
    text text NOT NULL,
    -- Its words, lowercased: a payout is found in a line by a whole-word match.
    tokens text[] NOT NULL,
    PRIMARY KEY (org_id, account_id, bank_reference),
    FOREIGN KEY (org_id, statement_id) REFERENCES bank_statements (org_id, statement_id)
);
CREATE INDEX bank_lines_by_token ON bank_lines USING gin (tokens);
CREATE INDEX bank_lines_by_amount ON bank_lines (org_id, currency, amount_minor, booked_on);
SELECT enable_tenant_isolation('bank_lines');
