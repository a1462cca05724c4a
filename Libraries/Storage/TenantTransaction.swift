import Logging
import PostgresNIO

/// The org whose rows a transaction may touch.
public struct TenantID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init?(rawValue: String) {
        guard !rawValue.isEmpty else { return nil }
        self.rawValue = rawValue
    }
    public var description: String { rawValue }
}

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

/// The SQL that puts a table under tenant isolation; use it in a service migration after
/// creating a table with an `org_id text NOT NULL` column.
///
/// The policy reads the session's org through a sub-select, evaluated once per statement. The
/// bare `current_setting(...)` would be evaluated while planning and looked up in the column's
/// statistics, where an org that is new or has grown since the last ANALYZE counts as one row:
/// primary-key lookups then get planned through an index on `org_id` and walk the whole org.
public enum TenantIsolation {
    public static func policySQL(table: String) -> String {
        """
        ALTER TABLE \(table) ENABLE ROW LEVEL SECURITY;
        ALTER TABLE \(table) FORCE ROW LEVEL SECURITY;
        CREATE POLICY \(table)_tenant ON \(table)
            USING (org_id = (SELECT current_setting('tally.org_id', true)))
            WITH CHECK (org_id = (SELECT current_setting('tally.org_id', true)));
        """
    }
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
