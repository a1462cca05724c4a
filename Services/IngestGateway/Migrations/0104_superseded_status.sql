-- The normalizer can report a webhook as superseded: every state change it carried was older
-- than one already applied for the same object.
ALTER TABLE webhook_inbox DROP CONSTRAINT webhook_inbox_status_check;
ALTER TABLE webhook_inbox ADD CONSTRAINT webhook_inbox_status_check
    CHECK (status IN ('pending', 'published', 'processed', 'ignored', 'superseded', 'failed'));
