-- The relay's mark (outbox published_at) set each inbox row to 'published' from a row trigger,
-- while the outcome consumer moved the same rows to their final status. Both locked inbox rows
-- in their own order, so under load they deadlocked (each deadlock stalls both for
-- deadlock_timeout, then aborts one). Now one statement trigger marks all of a relay batch's
-- rows, org by org, and skips a row another transaction holds: that transaction is setting its
-- final status, which supersedes 'published' (a row it leaves behind on rollback gets its final
-- status on the retry). The relay never waits for an inbox row lock, so no cycle can form.
DROP TRIGGER outbox_published ON outbox;
DROP FUNCTION mark_webhook_published();

CREATE FUNCTION mark_webhooks_published() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    org text;
BEGIN
    FOR org IN
        SELECT DISTINCT n.org_id FROM published_now n JOIN published_before o ON o.id = n.id
        WHERE n.published_at IS NOT NULL AND o.published_at IS NULL
          AND n.topic = 'tally.ingest.raw-webhooks.v1' AND n.org_id IS NOT NULL
    LOOP
        PERFORM set_config('tally.org_id', org, true);
        -- A first delivery's event id is its inbox id; a replay's (`<replay id>-<inbox id>`)
        -- is not a uuid and changes no status.
        UPDATE webhook_inbox SET status = 'published', status_changed_at = now()
        WHERE id IN (
            SELECT i.id FROM webhook_inbox i
            WHERE i.status = 'pending' AND i.id IN (
                SELECT n.event_id::uuid FROM published_now n JOIN published_before o ON o.id = n.id
                WHERE n.org_id = org AND n.published_at IS NOT NULL AND o.published_at IS NULL
                  AND n.topic = 'tally.ingest.raw-webhooks.v1'
                  AND n.event_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
            ORDER BY i.id
            FOR UPDATE SKIP LOCKED);
    END LOOP;
    RETURN NULL;
END
$fn$;

-- Transition tables cannot be combined with a column list, so the trigger fires on every
-- outbox update and compares published_at itself.
CREATE TRIGGER outbox_published AFTER UPDATE ON outbox
    REFERENCING OLD TABLE AS published_before NEW TABLE AS published_now
    FOR EACH STATEMENT EXECUTE FUNCTION mark_webhooks_published();
