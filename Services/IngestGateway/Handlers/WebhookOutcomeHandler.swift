import Contracts
import Foundation
import Kafka
import Logging
import PostgresNIO
import Storage

/// Applies the normalizer's outcome events to the inbox: `processed`, `ignored`, `failed` or
/// `superseded`, with the reason. Runs inside the consumer inbox's transaction, so each outcome is
/// applied once.
///
/// A batch costs one `UPDATE` per org, whatever its size. Only a row still `pending` or
/// `published` takes an outcome: the first outcome decides, and a later one for the same row (in
/// the same batch or after) is recorded as ignored.
struct WebhookOutcomeHandler: Sendable {
    let schema: ServiceSchema
    let logger: Logger

    func handle(_ messages: [KafkaConsumerMessage], on connection: PostgresConnection) async throws -> [InboxOutcome] {
        var outcomes = [InboxOutcome](repeating: .ignored, count: messages.count)
        // The first outcome of each inbox row in the batch, with its batch position.
        var firsts: [(position: Int, inboxID: UUID, tenant: String, outcome: WebhookOutcome)] = []
        var seen = Set<UUID>()
        for (position, message) in messages.enumerated() {
            guard let value = message.value else { continue }
            let event = try CanonicalJSON.decode(EventEnvelope<WebhookOutcome>.self, from: value)
            guard TenantID(rawValue: event.tenant) != nil else { throw StorageError.missingTenant }
            guard let inboxID = UUID(uuidString: event.data.inboxID) else {
                logger.warning("webhook outcome names no inbox row (not a UUID); ignored", metadata: ["inbox_id": "\(event.data.inboxID)"])
                continue
            }
            guard seen.insert(inboxID).inserted else { continue }
            firsts.append((position, inboxID, event.tenant, event.data))
        }
        for (tenant, updates) in try firsts.groupedByTenant(\.tenant) {
            try await connection.setTenant(tenant, logger: logger)
            var positionOf: [UUID: Int] = [:]
            for update in updates { positionOf[update.inboxID] = update.position }
            // An empty reason is stored as NULL: a text array cannot carry NULLs from here.
            for try await id in try await connection.query("""
                UPDATE \(unescaped: schema.name).webhook_inbox AS w
                SET status = v.status, status_reason = NULLIF(v.reason, ''), status_changed_at = now()
                FROM unnest(\(updates.map(\.inboxID))::uuid[], \(updates.map(\.outcome.status.rawValue))::text[],
                            \(updates.map { $0.outcome.reason ?? "" })::text[]) AS v(id, status, reason)
                WHERE w.id = v.id AND w.status IN ('pending', 'published')
                RETURNING w.id
                """, logger: logger).decode(UUID.self) {
                if let position = positionOf[id] { outcomes[position] = .applied }
            }
        }
        return outcomes
    }
}
