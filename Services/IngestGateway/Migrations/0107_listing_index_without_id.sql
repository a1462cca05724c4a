-- With `id` as the listing index's last key, the planner served `id = $1` lookups (the relay's
-- trigger, the outcome consumer, admin lookups) from this index: org_id plus id as index
-- conditions, estimated cheaper than the primary key, but executed by scanning every entry of
-- the org, because received_at sits between them. Under load that made each lookup cost
-- milliseconds and held row locks that long. Without `id` in the key the index can only serve
-- an org's time range, and id lookups go to the primary key. The listing's ties on received_at
-- are ordered by id after the index scan.
DROP INDEX webhook_inbox_listing;
CREATE INDEX webhook_inbox_listing ON webhook_inbox (org_id, received_at DESC);
