-- The double-entry ledger: accounts, transactions and their entries, the per-org chain head.
-- Rows of ledger_transactions and ledger_entries are written once and never changed: the
-- service's own role loses UPDATE, DELETE and TRUNCATE on them, and a trigger refuses both
-- statements for anyone else (a correction is a reversal transaction pointing at the original).
-- Balance is checked here too, not only in Swift: a deferred constraint trigger checks at commit
-- that each transaction has two or more entries, sums to zero per currency, and holds more than
-- one currency only through exchange accounts (equity:fx:<currency>).

-- The org's chart of accounts, created on first use.
CREATE TABLE accounts (
    org_id text NOT NULL,
    code text NOT NULL CHECK (code ~ '^[a-z_]+(:[A-Za-z0-9_.-]+)+$'),
    kind text NOT NULL CHECK (kind IN ('asset', 'liability', 'income', 'expense', 'equity')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, code)
);
SELECT enable_tenant_isolation('accounts', operator_read => true);

-- Where each org's chain stands: the last sequence and its chain hash. Locked FOR UPDATE by
-- every posting, so an org's transactions are numbered and chained one at a time.
CREATE TABLE ledger_heads (
    org_id text PRIMARY KEY,
    sequence bigint NOT NULL,
    chain_sha256 text NOT NULL
);
SELECT enable_tenant_isolation('ledger_heads');

CREATE TABLE ledger_transactions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id text NOT NULL,
    sequence bigint NOT NULL CHECK (sequence > 0),
    -- The idempotency key: a provider reference such as stripe:pi_123:capture.
    key text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('capture', 'refund', 'dispute_opened', 'dispute_won', 'dispute_lost', 'payout')),
    payment_provider text,
    payment_id text,
    reverses bigint REFERENCES ledger_transactions (id),
    cause_event_id text NOT NULL,
    cause_event_type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    posted_at timestamptz NOT NULL,
    content_sha256 text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    chain_sha256 text NOT NULL CHECK (chain_sha256 ~ '^[0-9a-f]{64}$'),
    UNIQUE (org_id, key),
    UNIQUE (org_id, sequence),
    CHECK ((payment_provider IS NULL) = (payment_id IS NULL))
);
CREATE INDEX ledger_transactions_payment ON ledger_transactions (org_id, payment_provider, payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX ledger_transactions_posted ON ledger_transactions (org_id, posted_at);
SELECT enable_tenant_isolation('ledger_transactions', operator_read => true);

CREATE TABLE ledger_entries (
    transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
    line smallint NOT NULL CHECK (line >= 0),
    org_id text NOT NULL,
    account text NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor bigint NOT NULL CHECK (amount_minor <> 0),
    -- Copied from the transaction (never changes), so balances and statements read one table.
    sequence bigint NOT NULL,
    posted_at timestamptz NOT NULL,
    PRIMARY KEY (transaction_id, line),
    FOREIGN KEY (org_id, account) REFERENCES accounts (org_id, code)
);
CREATE INDEX ledger_entries_statement ON ledger_entries (org_id, account, currency, sequence);
SELECT enable_tenant_isolation('ledger_entries', operator_read => true);

-- Written once: no UPDATE, DELETE or TRUNCATE for the service's role, and a trigger for everyone.
-- The one column grant is what PostgreSQL's foreign-key checks need (they lock the referenced
-- transaction row FOR KEY SHARE, which takes UPDATE on some column); `id` is an identity column
-- that cannot be set, and the trigger refuses the statement anyway.
REVOKE UPDATE, DELETE, TRUNCATE ON ledger_transactions, ledger_entries FROM CURRENT_USER;
GRANT UPDATE (id) ON ledger_transactions TO CURRENT_USER;

CREATE FUNCTION ledger_rows_are_immutable() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    RAISE EXCEPTION 'ledger rows are immutable: % on % refused; post a reversal instead', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $fn$;
CREATE TRIGGER ledger_transactions_immutable BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_rows_are_immutable();
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_rows_are_immutable();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_rows_are_immutable();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_rows_are_immutable();

-- Double entry, checked at commit for every transaction that gained entries (or none).
CREATE FUNCTION ledger_transaction_balances() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    target bigint;
    entry_count integer;
    unbalanced record;
    currency_count integer;
    bare_currency text;
BEGIN
    IF TG_TABLE_NAME = 'ledger_transactions' THEN
        target := NEW.id;
    ELSE
        target := NEW.transaction_id;
    END IF;
    SELECT count(*), count(DISTINCT currency) INTO entry_count, currency_count FROM ledger_entries WHERE transaction_id = target;
    IF entry_count < 2 THEN
        RAISE EXCEPTION 'ledger transaction % has % entries; a transaction needs at least two', target, entry_count
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT currency, sum(amount_minor) AS total INTO unbalanced
        FROM ledger_entries WHERE transaction_id = target GROUP BY currency HAVING sum(amount_minor) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance in %: its entries sum to %', target, unbalanced.currency, unbalanced.total
            USING ERRCODE = 'check_violation';
    END IF;
    IF currency_count > 1 THEN
        SELECT e.currency INTO bare_currency FROM ledger_entries e WHERE e.transaction_id = target
            GROUP BY e.currency HAVING bool_and(e.account NOT LIKE 'equity:fx:%') LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger transaction % mixes currencies; % does not go through an exchange account', target, bare_currency
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NULL;
END $fn$;
CREATE CONSTRAINT TRIGGER ledger_transactions_balance AFTER INSERT ON ledger_transactions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balances();
CREATE CONSTRAINT TRIGGER ledger_entries_balance AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balances();

-- Facts the ledger refused: the same key with other content, or a rule it would break. Listed
-- for a person until resolved; never dropped.
CREATE TABLE ledger_conflicts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id text NOT NULL,
    key text NOT NULL,
    code text NOT NULL,
    field text NOT NULL,
    recorded text NOT NULL,
    offered text NOT NULL,
    cause_event_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolved_by text,
    resolution_note text,
    -- One row per distinct refusal: the same refused fact sent again is not a second conflict.
    UNIQUE (org_id, key, code, field, offered)
);
CREATE INDEX ledger_conflicts_open ON ledger_conflicts (org_id, id) WHERE resolved_at IS NULL;
SELECT enable_tenant_isolation('ledger_conflicts', operator_read => true);
