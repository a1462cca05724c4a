-- Tenant policies compare org_id with a sub-select of the session's org instead of the bare
-- current_setting() call. Both mean the same rows; they differ in what the planner sees.
--
-- With the bare call the planner evaluates it while planning and looks the org up in the
-- column's statistics. An org that is new since the last ANALYZE, or has grown since, is
-- estimated at one row, so a lookup by primary key (`id = ANY(...)`, or a join on id) looked
-- cheaper through the listing index (org_id, received_at): the relay's mark and the outcome
-- consumer then walked every inbox entry of the org for each batch. Measured at 1,000
-- webhooks/s: 2 ms of CPU to mark a single row once the org held ~1,400 rows.
--
-- With the sub-select the org is a value known only when the statement runs (an init plan,
-- evaluated once per statement), so the planner estimates an org's share as 1/(number of orgs)
-- whatever the statistics say about particular orgs, and primary-key lookups win. The org
-- still serves as an index condition where a query has nothing better (an org's listing).
ALTER POLICY sources_tenant ON sources
    USING (org_id = (SELECT current_setting('tally.org_id', true)))
    WITH CHECK (org_id = (SELECT current_setting('tally.org_id', true)));
ALTER POLICY source_secrets_tenant ON source_secrets
    USING (org_id = (SELECT current_setting('tally.org_id', true)))
    WITH CHECK (org_id = (SELECT current_setting('tally.org_id', true)));
ALTER POLICY webhook_inbox_tenant ON webhook_inbox
    USING (org_id = (SELECT current_setting('tally.org_id', true)))
    WITH CHECK (org_id = (SELECT current_setting('tally.org_id', true)));
ALTER POLICY webhook_conflicts_tenant ON webhook_conflicts
    USING (org_id = (SELECT current_setting('tally.org_id', true)))
    WITH CHECK (org_id = (SELECT current_setting('tally.org_id', true)));
ALTER POLICY refused_requests_read ON refused_requests
    USING (org_id = (SELECT current_setting('tally.org_id', true)));
