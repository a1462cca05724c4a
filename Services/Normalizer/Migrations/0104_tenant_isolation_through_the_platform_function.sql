-- Re-creates the normalizer's tenant policies through the platform's enable_tenant_isolation()
-- (the same rules as 0101, 0102 and 0103 wrote by hand), so no policy SQL of its own remains.
SELECT enable_tenant_isolation('lineage');
SELECT enable_tenant_isolation('raw_outcomes');
SELECT enable_tenant_isolation('object_versions');
