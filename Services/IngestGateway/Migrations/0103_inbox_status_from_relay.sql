-- An inbox row becomes 'published' when the relay marks its raw-webhook event published.
-- The relay has no tenant context, so the trigger sets the row's org before touching the
-- tenant-isolated inbox (transaction-local, like SET LOCAL).
CREATE FUNCTION mark_webhook_published() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    IF NEW.published_at IS NOT NULL AND OLD.published_at IS NULL
       AND NEW.topic = 'tally.ingest.raw-webhooks.v1' AND NEW.org_id IS NOT NULL THEN
        PERFORM set_config('tally.org_id', NEW.org_id, true);
        UPDATE webhook_inbox SET status = 'published', status_changed_at = now()
        WHERE id::text = NEW.event_id AND status = 'pending';
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER outbox_published AFTER UPDATE OF published_at ON outbox
    FOR EACH ROW EXECUTE FUNCTION mark_webhook_published();
