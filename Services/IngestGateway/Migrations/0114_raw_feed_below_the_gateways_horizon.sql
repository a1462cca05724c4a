-- The raw-webhook relay's read below the gateway's own feed horizon (platform migration 11)
-- instead of pg_snapshot_xmin: only the gateway's sessions write `webhooks`, so another
-- service's long batch transaction no longer holds raw publication back (it did for seconds
-- under load). The horizon is taken in a statement of its own, before the read.
CREATE OR REPLACE FUNCTION unpublished_webhooks(p_txid xid8, p_id uuid, p_limit int)
RETURNS TABLE (txid xid8, id uuid, org_id text, source_id text, provider text, provider_event_id text, provider_event_type text,
               trust text, content_type text, body bytea, body_sha256 text, received_at timestamptz)
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $fn$
DECLARE
    v_below xid8 := feed_horizon();
BEGIN
    PERFORM set_config('tally.scope', 'operator', true);
    RETURN QUERY
    SELECT w.txid, w.id, w.org_id, w.source_id, w.provider, w.provider_event_id, w.provider_event_type, w.trust,
           w.content_type, w.body, w.body_sha256, w.received_at
    FROM webhooks w
    WHERE w.txid IS NOT NULL AND (w.txid, w.id) > (p_txid, p_id) AND w.txid < v_below
    ORDER BY w.txid, w.id
    LIMIT p_limit;
END
$fn$;
