-- An invoice's settlement transactions are found by key prefix (invoice:<id>:settle:…) for the
-- reconcile and the mismatch list; this index keeps that to the org's settlements instead of its
-- whole ledger.
CREATE INDEX ledger_transactions_invoice_settlements ON ledger_transactions (org_id, key) WHERE kind = 'invoice_settled';
