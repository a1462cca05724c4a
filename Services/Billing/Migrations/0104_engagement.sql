-- Each engagement message of a subscription, once (sent, or skipped when a later one was due).
CREATE TABLE engagement_messages (
    org_id text NOT NULL,
    subscription uuid NOT NULL,
    template_key text NOT NULL,
    disposition text NOT NULL CHECK (disposition IN ('sent', 'skipped')),
    day integer NOT NULL,
    dedupe_key text NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, subscription, template_key)
);
SELECT enable_tenant_isolation('engagement_messages');
