import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// Reads of the discrepancies for the admin routes, each in its own tenant transaction.
struct DiscrepancyQueries: Sendable {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger

    struct Filter: Sendable {
        var status: Discrepancy.Status = .open
        var reason: MismatchReason?
        /// Only those opened before this time.
        var openedBefore: Date?
        /// The id of the last discrepancy of the previous page.
        var after: String?
        var limit: Int = 50
    }

    /// Oldest opening first, then by id.
    func list(org: TenantID, _ filter: Filter) async throws -> [RecordedDiscrepancy] {
        try await client.withTenantTransaction(org, logger: logger) { connection in
            try await ReconciliationRows.discrepancies(
                try await connection.query(
                    """
                    SELECT \(unescaped: ReconciliationRows.discrepancyColumns) FROM \(unescaped: schema.name).discrepancies d
                    WHERE org_id = current_setting('tally.org_id', true) AND status = \(filter.status.rawValue)
                      AND (\(filter.reason?.rawValue)::text IS NULL OR reason = \(filter.reason?.rawValue))
                      AND (\(filter.openedBefore)::timestamptz IS NULL OR opened_at < \(filter.openedBefore))
                      AND (\(filter.after)::text IS NULL OR (opened_at, discrepancy_id) > (
                            SELECT opened_at, discrepancy_id FROM \(unescaped: schema.name).discrepancies
                            WHERE org_id = current_setting('tally.org_id', true) AND discrepancy_id = \(filter.after)))
                    ORDER BY opened_at, discrepancy_id LIMIT \(Int32(filter.limit))
                    """, logger: logger))
        }
    }

    func discrepancy(org: TenantID, id: String) async throws -> (RecordedDiscrepancy, RecordedCheck?)? {
        try await client.withTenantTransaction(org, logger: logger) { connection in
            let store = PostgresReconciliationStore(schema: schema, connection: connection, logger: logger)
            guard let found = try await store.discrepancy(id) else { return nil }
            let check = try await store.checks(keys: [found.discrepancy.checkKey])[found.discrepancy.checkKey]
            return (found, check)
        }
    }
}
