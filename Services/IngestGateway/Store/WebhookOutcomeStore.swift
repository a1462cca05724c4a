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

/// The PostgreSQL form, inside the consumer inbox's transaction: one `UPDATE` per call.
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
            UPDATE \(unescaped: schema.name).webhook_inbox AS w
            SET status = v.status, status_reason = NULLIF(v.reason, ''), status_changed_at = now()
            FROM unnest(\(updates.map(\.inboxID))::uuid[], \(updates.map(\.status.rawValue))::text[],
                        \(updates.map { $0.reason ?? "" })::text[]) AS v(id, status, reason)
            WHERE w.id = v.id AND w.status = ANY(\(InboxStatus.awaitingOutcome.map(\.rawValue))::text[])
            RETURNING w.id
            """, logger: logger
        ).decode(UUID.self) {
            settled.insert(id)
        }
        return settled
    }
}
