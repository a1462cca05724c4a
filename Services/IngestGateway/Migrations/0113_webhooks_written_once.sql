-- The raw body written once. Until now each accepted webhook was written three times with its
-- body (the inbox row on accept, again when the relay marked it 'published', again with the
-- normalizer's outcome) and a fourth time as the payload of its raw-webhook event in the outbox,
-- which the relay then marked too: about 19 rows and 17.7 KB of WAL per webhook on a fresh
-- stack (docs/benchmarks.md). Now:
--
-- * `webhooks` (the former table `webhook_inbox`) holds each accepted webhook, byte for byte,
--   and is never updated: no status columns.
-- * The raw-webhook event is published from that row itself. Each row carries the id of the
--   transaction that wrote it (`txid`); the gateway's raw-webhook relay reads rows in
--   (txid, id) order, only those of transactions older than every transaction still running
--   (`pg_snapshot_xmin`), so a transaction that commits later can never hold a row behind the
--   relay's position. Each batch the broker acknowledged appends its last position to
--   `raw_publications`; the latest entry is how far publication has got.
-- * `webhook_outcomes` holds the normalizer's decision for a row, one narrow insert, the first
--   decision winning as before.
-- * `webhook_inbox` is now a view: the rows with the status operators know (pending, published,
--   then the outcome), derived from the three.
--
-- Rows already here keep everything they had: a published or decided row counts as published
-- (its txid stays NULL), its outcome moves to webhook_outcomes; a row whose raw event was still
-- waiting in the outbox gets the oldest possible position instead, and its outbox copy is
-- deleted, so the new relay publishes it first.

DROP TRIGGER outbox_published ON outbox;
DROP FUNCTION mark_webhooks_published();
DROP FUNCTION accept_webhooks(text, uuid[], text[], text[], text[], text[], text[], text[], text[], text[], int[], text[],
                              timestamptz[], text[], text[], text[], text[], text[]);

-- The rows move below as the tables' owner, which row-level security lets through only while
-- it is not forced; enable_tenant_isolation forces it again at the end.
ALTER TABLE webhook_inbox NO FORCE ROW LEVEL SECURITY;
ALTER TABLE webhook_inbox RENAME TO webhooks;
ALTER INDEX webhook_inbox_listing RENAME TO webhooks_listing;

-- The outcomes, before the status columns go.
CREATE TABLE webhook_outcomes (
    inbox_id uuid PRIMARY KEY REFERENCES webhooks (id),
    org_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('processed', 'ignored', 'superseded', 'failed')),
    reason text,
    decided_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO webhook_outcomes (inbox_id, org_id, status, reason, decided_at)
SELECT id, org_id, status, status_reason, status_changed_at
FROM webhooks WHERE status IN ('processed', 'ignored', 'superseded', 'failed');

-- Publication in commit order. NULL: published before this migration.
ALTER TABLE webhooks ADD COLUMN txid xid8;
ALTER TABLE webhooks ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
CREATE INDEX webhooks_publication_order ON webhooks (txid, id) WHERE txid IS NOT NULL;

CREATE TABLE raw_publications (
    id bigserial PRIMARY KEY,
    up_to_txid xid8 NOT NULL,
    up_to_id uuid NOT NULL,
    messages integer NOT NULL,
    published_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX raw_publications_position ON raw_publications (up_to_txid, up_to_id);
-- The start: before every position a transaction can have.
INSERT INTO raw_publications (up_to_txid, up_to_id, messages) VALUES ('0', '00000000-0000-0000-0000-000000000000', 0);

-- Waiting rows: published by the new relay, first; their outbox copies go.
-- (Platform migration 10 ran first: an outbox row still waiting is one with a txid.)
UPDATE webhooks SET txid = '1' WHERE status = 'pending';
DELETE FROM outbox o USING webhooks w
WHERE o.txid IS NOT NULL AND o.topic = 'tally.ingest.raw-webhooks.v1' AND o.event_id = w.id::text AND w.txid = '1';

ALTER TABLE webhooks DROP COLUMN status, DROP COLUMN status_reason, DROP COLUMN status_changed_at;
-- Rows are never updated now: pages can be full.
ALTER TABLE webhooks SET (fillfactor = 100);
SELECT enable_tenant_isolation('webhooks', operator_read => true);
SELECT enable_tenant_isolation('webhook_outcomes', operator_read => true);

-- The inbox as operators, the admin routes and the checks read it. Row-level security applies
-- to whoever reads (security_invoker), as on the tables.
CREATE VIEW webhook_inbox WITH (security_invoker = true) AS
SELECT w.id, w.org_id, w.source_id, w.provider, w.provider_event_id, w.provider_event_type, w.trust, w.content_type,
       w.body, w.body_sha256, w.headers, w.received_at, w.txid,
       COALESCE(o.status,
                CASE WHEN w.txid IS NULL OR (w.txid, w.id) <= (p.up_to_txid, p.up_to_id) THEN 'published' ELSE 'pending' END
       ) AS status,
       o.reason AS status_reason,
       COALESCE(o.decided_at, w.received_at) AS status_changed_at
FROM webhooks w
LEFT JOIN webhook_outcomes o ON o.inbox_id = w.id
CROSS JOIN (SELECT up_to_txid, up_to_id FROM raw_publications ORDER BY id DESC LIMIT 1) p;

-- The intake, as in 0111, without the outbox copy: storing the row is what queues its event.
-- One NOTIFY per call that stored a row wakes the raw-webhook relay.
CREATE FUNCTION accept_webhooks(
    p_org text,
    p_ids uuid[], p_source_ids text[], p_providers text[], p_event_ids text[], p_event_types text[],
    p_trusts text[], p_content_types text[], p_bodies text[], p_body_sha256s text[], p_body_sizes int[],
    p_request_headers text[], p_received_ats timestamptz[]
) RETURNS TABLE (out_position int, out_inbox_id uuid, out_outcome text)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    stored uuid[];
BEGIN
    PERFORM set_config('tally.org_id', p_org, true), set_config('synchronous_commit', 'on', true);

    WITH inserted AS (
        INSERT INTO webhooks (id, org_id, source_id, provider, provider_event_id, provider_event_type, trust,
                              content_type, body, body_sha256, headers, received_at)
        SELECT w.id, p_org, w.source_id, w.provider, w.event_id, w.event_type, w.trust, w.content_type,
               decode(w.body, 'base64'), w.body_sha256, w.headers::jsonb, w.received_at
        FROM unnest(p_ids, p_source_ids, p_providers, p_event_ids, p_event_types, p_trusts, p_content_types,
                    p_bodies, p_body_sha256s, p_request_headers, p_received_ats)
             WITH ORDINALITY AS w(id, source_id, provider, event_id, event_type, trust, content_type, body,
                                  body_sha256, headers, received_at, position)
        ORDER BY w.source_id, w.event_id, w.position
        ON CONFLICT (source_id, provider_event_id) DO NOTHING
        RETURNING id
    )
    SELECT coalesce(array_agg(id), '{}') INTO stored FROM inserted;

    IF cardinality(stored) > 0 THEN
        PERFORM pg_notify(current_schema() || '_raw_webhooks', '');
    END IF;

    IF cardinality(stored) = cardinality(p_ids) THEN
        RETURN QUERY SELECT i.position::int, i.id, 'accepted'::text FROM unnest(p_ids) WITH ORDINALITY AS i(id, position);
        RETURN;
    END IF;

    -- Repeats: this statement sees the rows the insert above stored, so a repeat within the
    -- batch resolves to the first delivery.
    RETURN QUERY
    WITH input AS (
        SELECT * FROM unnest(p_ids, p_source_ids, p_event_ids, p_body_sha256s, p_body_sizes)
             WITH ORDINALITY AS w(id, source_id, event_id, body_sha256, body_size, position)
    ), resolved AS (
        SELECT i.position, i.id = ANY(stored) AS stored_now, i.id, i.source_id, i.event_id, i.body_sha256, i.body_size,
               f.id AS first_id, f.body_sha256 AS first_sha256
        FROM input i
        LEFT JOIN webhooks f
               ON NOT (i.id = ANY(stored)) AND f.source_id = i.source_id AND f.provider_event_id = i.event_id
    ), conflicts AS (
        INSERT INTO webhook_conflicts (org_id, inbox_id, source_id, provider_event_id, body_sha256, body_size)
        SELECT p_org, r.first_id, r.source_id, r.event_id, r.body_sha256, r.body_size
        FROM resolved r
        WHERE NOT r.stored_now AND r.first_id IS NOT NULL AND r.first_sha256 <> r.body_sha256
        ORDER BY r.position
    )
    SELECT r.position::int,
           CASE WHEN r.stored_now THEN r.id ELSE r.first_id END,
           CASE WHEN r.stored_now THEN 'accepted'
                WHEN r.first_id IS NULL THEN 'invisible'
                WHEN r.first_sha256 = r.body_sha256 THEN 'duplicate'
                ELSE 'conflict' END
    FROM resolved r
    ORDER BY r.position;
END
$fn$;

-- The raw-webhook relay's read: up to p_limit rows after the position (p_txid, p_id), in
-- (txid, id) order, written by transactions that have all ended (below the oldest transaction
-- still running, so nothing can commit behind the position later). Across orgs: an explicit,
-- read-only operator scope for this statement's transaction. Planned once per session.
CREATE FUNCTION unpublished_webhooks(p_txid xid8, p_id uuid, p_limit int)
RETURNS TABLE (txid xid8, id uuid, org_id text, source_id text, provider text, provider_event_id text, provider_event_type text,
               trust text, content_type text, body bytea, body_sha256 text, received_at timestamptz)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    PERFORM set_config('tally.scope', 'operator', true);
    RETURN QUERY
    SELECT w.txid, w.id, w.org_id, w.source_id, w.provider, w.provider_event_id, w.provider_event_type, w.trust,
           w.content_type, w.body, w.body_sha256, w.received_at
    FROM webhooks w
    WHERE w.txid IS NOT NULL AND (w.txid, w.id) > (p_txid, p_id)
      AND w.txid < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY w.txid, w.id
    LIMIT p_limit;
END
$fn$;

-- The relay's backlog gauges: rows after the recorded position, and the age of the oldest.
CREATE FUNCTION raw_webhook_backlog() RETURNS TABLE (messages bigint, oldest_age_seconds float8)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    PERFORM set_config('tally.scope', 'operator', true);
    RETURN QUERY
    SELECT count(*)::bigint, COALESCE(EXTRACT(EPOCH FROM now() - min(w.received_at)), 0)::float8
    FROM webhooks w, (SELECT up_to_txid, up_to_id FROM raw_publications ORDER BY raw_publications.id DESC LIMIT 1) p
    WHERE w.txid IS NOT NULL AND (w.txid, w.id) > (p.up_to_txid, p.up_to_id);
END
$fn$;
