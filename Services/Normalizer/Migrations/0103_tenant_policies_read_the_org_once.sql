-- Tenant policies compare org_id with a sub-select of the session's org (evaluated once per
-- statement) instead of the bare current_setting() call, so the planner never estimates an org
-- from stale statistics (a new or grown org looked like one row, and primary-key lookups were
-- planned through an org index). The ingest gateway's migration 0109 explains the measurement.
ALTER POLICY lineage_tenant ON lineage
    USING (org_id = (SELECT current_setting('tally.org_id', true)))
    WITH CHECK (org_id = (SELECT current_setting('tally.org_id', true)));
ALTER POLICY raw_outcomes_tenant ON raw_outcomes
    USING (org_id = (SELECT current_setting('tally.org_id', true)))
    WITH CHECK (org_id = (SELECT current_setting('tally.org_id', true)));
ALTER POLICY object_versions_tenant ON object_versions
    USING (org_id = (SELECT current_setting('tally.org_id', true)))
    WITH CHECK (org_id = (SELECT current_setting('tally.org_id', true)));
