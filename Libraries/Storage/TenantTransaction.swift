import Contracts
import Logging
import PostgresNIO

extension PostgresClient {
    /// Runs `body` in one transaction whose tenant is `tenant`: `tally.org_id` is set with
    /// `SET LOCAL` semantics (`set_config(…, true)`), so it ends with the transaction. Tenant
    /// tables carry row-level security keyed on that setting, so rows of another org are
    /// invisible and cannot be written; with no tenant set they see nothing at all.
    @discardableResult
    public func withTenantTransaction<Result: Sendable>(
        _ tenant: TenantID,
        logger: Logger,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withTransaction(logger: logger) { connection in
            try await connection.setTenant(tenant, logger: logger)
            return try await body(connection)
        }
    }
}

extension PostgresConnection {
    /// Makes `tenant` the org of the rest of the current transaction (`set_config(…, true)`, the
    /// same as `SET LOCAL`). For handlers that share one transaction across events of several orgs.
    public func setTenant(_ tenant: TenantID, logger: Logger) async throws {
        try await query("SELECT set_config('tally.org_id', \(tenant.rawValue), true)", logger: logger)
    }
}

/// Tenant isolation is one PostgreSQL function in every service schema (platform migration 7):
/// a service migration puts a table with an `org_id text NOT NULL` column under it with
/// `SELECT enable_tenant_isolation('table');` and writes no policy SQL of its own.
///
/// What the function guarantees, for the table it is given:
/// - Row-level security is enabled and forced (the owning role is bound by it too).
/// - Any policy the table had is dropped first, so calling it again re-creates the policies
///   (this is how tables created before the function moved onto it).
/// - `writers => 'tenant'` (the default): a session sees and writes only rows of the org set
///   with `setTenant` (`tally.org_id`), and with no org set it sees nothing.
///   `writers => 'anyone'`: every session may insert and delete (a log whose writer may not
///   know the org yet, trimmed by age), but reads only its own org's rows.
/// - `operator_read => true`: a session that set `tally.scope` to `operator` reads every org's
///   rows (operational aggregates), and still writes none of them.
///
/// The policy reads the session's org through a sub-select, evaluated once per statement. The
/// bare `current_setting(...)` would be evaluated while planning and looked up in the column's
/// statistics, where an org that is new or has grown since the last ANALYZE counts as one row:
/// primary-key lookups then get planned through an index on `org_id` and walk the whole org.
public enum TenantIsolation {
    /// The function's definition (platform migration 7).
    static let functionSQL = """
        CREATE FUNCTION enable_tenant_isolation(target regclass, writers text DEFAULT 'tenant', operator_read boolean DEFAULT false)
        RETURNS void LANGUAGE plpgsql AS $fn$
        DECLARE
            existing record;
            table_name text := (SELECT relname FROM pg_class WHERE oid = target);
            own_org constant text := 'org_id = (SELECT current_setting(''tally.org_id'', true))';
        BEGIN
            IF writers NOT IN ('tenant', 'anyone') THEN
                RAISE EXCEPTION 'enable_tenant_isolation(%): writers must be ''tenant'' or ''anyone'', not %', target, writers;
            END IF;
            IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = target AND attname = 'org_id' AND NOT attisdropped) THEN
                RAISE EXCEPTION 'enable_tenant_isolation(%): the table has no org_id column', target;
            END IF;
            FOR existing IN SELECT polname FROM pg_policy WHERE polrelid = target LOOP
                EXECUTE format('DROP POLICY %I ON %s', existing.polname, target);
            END LOOP;
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
            EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
            IF writers = 'tenant' THEN
                EXECUTE format('CREATE POLICY %I ON %s USING (%s) WITH CHECK (%s)', table_name || '_tenant', target, own_org, own_org);
            ELSE
                EXECUTE format('CREATE POLICY %I ON %s FOR SELECT USING (%s)', table_name || '_tenant_read', target, own_org);
                EXECUTE format('CREATE POLICY %I ON %s FOR INSERT WITH CHECK (true)', table_name || '_insert', target);
                EXECUTE format('CREATE POLICY %I ON %s FOR DELETE USING (true)', table_name || '_trim', target);
            END IF;
            IF operator_read THEN
                EXECUTE format('CREATE POLICY %I ON %s FOR SELECT USING (current_setting(''tally.scope'', true) = ''operator'')',
                               table_name || '_operator_read', target);
            END IF;
        END $fn$;
        """
}

extension Sequence {
    /// The elements split by org, orgs in order of first appearance and elements in their own
    /// order: for a handler that shares one transaction across orgs and writes each org's rows
    /// together, after `setTenant`. Throws `StorageError.missingTenant` for an empty org.
    public func groupedByTenant(_ org: (Element) throws -> String) throws -> [(tenant: TenantID, elements: [Element])] {
        var groups: [(tenant: TenantID, elements: [Element])] = []
        var position: [String: Int] = [:]
        for element in self {
            let key = try org(element)
            if let index = position[key] {
                groups[index].elements.append(element)
                continue
            }
            guard let tenant = TenantID(rawValue: key) else { throw StorageError.missingTenant }
            position[key] = groups.count
            groups.append((tenant, [element]))
        }
        return groups
    }
}
