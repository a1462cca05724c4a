-- The intake stored a batch of webhooks in five to six round trips: BEGIN, the org and
-- synchronous-commit settings, the inbox insert, the outbox insert, COMMIT, and a lookup when the
-- batch repeated an id. Each statement was parsed and planned again, and each round trip woke a
-- database connection's event loop and the waiting task in the gateway. This function does the
-- same work in one call, in the call's own transaction; PL/pgSQL keeps the plans of its
-- statements for the session.
--
-- Guarantees, as before: rows go in ordered by (source, event id, position), so concurrent
-- batches take their locks in the same order and the earlier of two deliveries of one id is the
-- one stored; a raw-webhook event is queued only for a row stored by this call; a repeat whose
-- body differs from the stored one is recorded in webhook_conflicts; the commit waits for its WAL
-- flush whatever the server's synchronous_commit says (set_config with is_local lasts until the
-- end of the caller's transaction, not of the function).
--
-- Returns one row per input position: the inbox id the webhook is stored under and 'accepted'
-- (stored now), 'duplicate' (stored before, same body), 'conflict' (stored before, other body) or
-- 'invisible' (the id is taken but the row is not visible in this org: a source and its inbox
-- disagree about the org, which the gateway reports as an error).
CREATE FUNCTION accept_webhooks(
    p_org text,
    p_ids uuid[], p_source_ids text[], p_providers text[], p_event_ids text[], p_event_types text[],
    p_trusts text[], p_content_types text[], p_bodies text[], p_body_sha256s text[], p_body_sizes int[],
    p_request_headers text[], p_received_ats timestamptz[],
    p_outbox_event_ids text[], p_outbox_topics text[], p_outbox_keys text[], p_outbox_payloads text[],
    p_outbox_headers text[]
) RETURNS TABLE (out_position int, out_inbox_id uuid, out_outcome text)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    stored uuid[];
BEGIN
    PERFORM set_config('tally.org_id', p_org, true), set_config('synchronous_commit', 'on', true);

    WITH inserted AS (
        INSERT INTO webhook_inbox (id, org_id, source_id, provider, provider_event_id, provider_event_type, trust,
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

    -- Events in input order, so the relay publishes them in the order the webhooks arrived.
    INSERT INTO outbox (event_id, topic, message_key, payload, headers, org_id)
    SELECT e.event_id, e.topic, e.message_key, decode(e.payload, 'base64'), e.headers::jsonb, p_org
    FROM unnest(p_ids, p_outbox_event_ids, p_outbox_topics, p_outbox_keys, p_outbox_payloads, p_outbox_headers)
         WITH ORDINALITY AS e(inbox_id, event_id, topic, message_key, payload, headers, position)
    WHERE e.inbox_id = ANY(stored)
    ORDER BY e.position
    ON CONFLICT (event_id) DO NOTHING;

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
        LEFT JOIN webhook_inbox f
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
