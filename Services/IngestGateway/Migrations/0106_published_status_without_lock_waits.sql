-- The relay's mark (outbox published_at) set each inbox row to 'published' from a row trigger,
-- while the outcome consumer moved the same rows to their final status. Both locked inbox rows
-- in their own order, so under load they deadlocked (each deadlock stalls both for
-- deadlock_timeout, then aborts one). The row trigger's cached plan was a second problem: made
-- while the inbox was nearly empty, it scanned an org's index range for every row, with the
-- row-level security condition on org_id as its only index condition.
--
-- Now one statement trigger marks a relay batch: per org, one UPDATE of the batch's inbox ids,
-- planned for those ids when it runs (EXECUTE), and skipping rows another transaction holds.
-- That transaction is setting the row's final status, which supersedes 'published' (should it
-- roll back, its retry sets the final status). The relay never waits for an inbox row lock, so
-- no cycle can form.
DROP TRIGGER outbox_published ON outbox;
DROP FUNCTION mark_webhook_published();

CREATE FUNCTION mark_webhooks_published() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    org text;
    ids uuid[];
BEGIN
    -- A first delivery's event id is its inbox id; a replay's (`<replay id>-<inbox id>`) is not
    -- a uuid and changes no status.
    FOR org, ids IN
        SELECT n.org_id, array_agg(n.event_id::uuid ORDER BY n.event_id)
        FROM published_now n JOIN published_before o ON o.id = n.id
        WHERE n.published_at IS NOT NULL AND o.published_at IS NULL
          AND n.topic = 'tally.ingest.raw-webhooks.v1' AND n.org_id IS NOT NULL
          AND n.event_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        GROUP BY n.org_id
    LOOP
        PERFORM set_config('tally.org_id', org, true);
        EXECUTE $sql$
            UPDATE webhook_inbox AS w SET status = 'published', status_changed_at = now()
            FROM (SELECT id FROM webhook_inbox WHERE id = ANY($1) AND status = 'pending'
                  ORDER BY id FOR UPDATE SKIP LOCKED) AS free
            WHERE w.id = free.id
        $sql$ USING ids;
    END LOOP;
    RETURN NULL;
END
$fn$;

-- Transition tables cannot be combined with a column list, so the trigger fires on every
-- outbox update and compares published_at itself.
CREATE TRIGGER outbox_published AFTER UPDATE ON outbox
    REFERENCING OLD TABLE AS published_before NEW TABLE AS published_now
    FOR EACH STATEMENT EXECUTE FUNCTION mark_webhooks_published();
