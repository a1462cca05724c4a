-- The relay's trigger found the inbox row by comparing id::text, which no index serves: every
-- published event scanned the whole inbox, so the relay slowed down as the inbox grew. Compare
-- as uuid so the primary key finds the row. A first delivery's event id is its inbox id; a
-- replay's (`<replay id>-<inbox id>`) is not a uuid and, as before, changes no status.
CREATE OR REPLACE FUNCTION mark_webhook_published() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    IF NEW.published_at IS NOT NULL AND OLD.published_at IS NULL
       AND NEW.topic = 'tally.ingest.raw-webhooks.v1' AND NEW.org_id IS NOT NULL
       AND NEW.event_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        PERFORM set_config('tally.org_id', NEW.org_id, true);
        UPDATE webhook_inbox SET status = 'published', status_changed_at = now()
        WHERE id = NEW.event_id::uuid AND status = 'pending';
    END IF;
    RETURN NULL;
END
$fn$;
