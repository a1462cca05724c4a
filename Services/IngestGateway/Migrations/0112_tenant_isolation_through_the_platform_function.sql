-- Re-creates the gateway's tenant policies through the platform's enable_tenant_isolation()
-- (the same rules as 0101, 0102 and 0109 wrote by hand), so no policy SQL of the gateway's own
-- remains. The refused-request log keeps its rules: anyone may add or trim, each org reads its own.
SELECT enable_tenant_isolation('sources');
SELECT enable_tenant_isolation('source_secrets');
SELECT enable_tenant_isolation('webhook_inbox', operator_read => true);
SELECT enable_tenant_isolation('webhook_conflicts');
SELECT enable_tenant_isolation('refused_requests', writers => 'anyone');
