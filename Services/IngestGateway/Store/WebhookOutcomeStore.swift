import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// Where the normalizer's outcomes land: the status of inbox rows.
protocol WebhookOutcomeStore: Sendable {
    /// Sets each row's final status if it is still awaiting one, all rows of `tenant`, and
    /// returns the ids that took it. A row already final keeps its status.
    func settle(_ updates: [OutcomeAssignment.Update], tenant: TenantID) async throws -> Set<UUID>
}

/// The PostgreSQL form, inside the consumer inbox's transaction: one insert into the narrow
/// `webhook_outcomes` per call; the stored webhook itself is never rewritten. The join keeps out
/// outcomes for rows this org does not have (row-level security hides other orgs' rows).
struct PostgresWebhookOutcomeStore: WebhookOutcomeStore {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger

    func settle(_ updates: [OutcomeAssignment.Update], tenant: TenantID) async throws -> Set<UUID> {
        try await connection.setTenant(tenant, logger: logger)
        var settled = Set<UUID>()
        // An empty reason is stored as NULL: a text array cannot carry NULLs from here.
        for try await id in try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).webhook_outcomes (inbox_id, org_id, status, reason)
            SELECT v.id, \(tenant.rawValue), v.status, NULLIF(v.reason, '')
            FROM unnest(\(updates.map(\.inboxID))::uuid[], \(updates.map(\.status.rawValue))::text[],
                        \(updates.map { $0.reason ?? "" })::text[]) AS v(id, status, reason)
            JOIN \(unescaped: schema.name).webhooks w ON w.id = v.id
            ORDER BY v.id
            ON CONFLICT (inbox_id) DO NOTHING
            RETURNING inbox_id
            """, logger: logger
        ).decode(UUID.self) {
            settled.insert(id)
        }
        return settled
    }
}
