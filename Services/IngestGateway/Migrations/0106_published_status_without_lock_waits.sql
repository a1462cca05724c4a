-- The relay's mark (outbox published_at) set each inbox row to 'published' from this trigger,
-- while the outcome consumer moved the same rows to their final status. Both locked inbox rows
-- in their own order, so under load they deadlocked (each deadlock stalls both for
-- deadlock_timeout, then aborts one). Now the trigger skips a row another transaction holds:
-- that transaction is setting the row's final status, which supersedes 'published' (should it
-- roll back, its retry sets the final status). The relay never waits for an inbox row lock, so
-- no cycle can form.
--
-- The lookup is planned on every call (plan_cache_mode): PL/pgSQL otherwise keeps a generic plan
-- made while the inbox was nearly empty, and with the row-level security condition on org_id
-- that plan scanned an org's index range for each row instead of using the primary key.
CREATE OR REPLACE FUNCTION mark_webhook_published() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_custom_plan AS $fn$
BEGIN
    IF NEW.published_at IS NOT NULL AND OLD.published_at IS NULL
       AND NEW.topic = 'tally.ingest.raw-webhooks.v1' AND NEW.org_id IS NOT NULL
       AND NEW.event_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        PERFORM set_config('tally.org_id', NEW.org_id, true);
        UPDATE webhook_inbox SET status = 'published', status_changed_at = now()
        WHERE id = (SELECT id FROM webhook_inbox WHERE id = NEW.event_id::uuid AND status = 'pending' FOR UPDATE SKIP LOCKED);
    END IF;
    RETURN NULL;
END
$fn$;
