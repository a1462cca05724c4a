import Contracts
import Foundation
import Kafka
import Logging
import PostgresNIO
import Storage

/// Applies the normalizer's outcome events to the inbox: `processed`, `ignored` or `failed`,
/// with the reason. Runs inside the consumer inbox's transaction, so each outcome is applied once.
struct WebhookOutcomeHandler: Sendable {
    let schema: ServiceSchema
    let logger: Logger

    func handle(_ message: KafkaConsumerMessage, on connection: PostgresConnection) async throws -> InboxOutcome {
        guard let value = message.value else { return .ignored }
        let event = try CanonicalJSON.decode(EventEnvelope<WebhookOutcome>.self, from: value)
        // The transaction serves the whole batch; each event sets its own org first.
        guard let tenant = TenantID(rawValue: event.tenant) else { throw StorageError.missingTenant }
        guard let inboxID = UUID(uuidString: event.data.inboxID) else {
            logger.warning("webhook outcome names no inbox row (not a UUID); ignored", metadata: ["inbox_id": "\(event.data.inboxID)"])
            return .ignored
        }
        try await connection.setTenant(tenant, logger: logger)
        var updated = 0
        for try await _ in try await connection.query("""
            UPDATE \(unescaped: schema.name).webhook_inbox
            SET status = \(event.data.status.rawValue), status_reason = \(event.data.reason), status_changed_at = now()
            WHERE id = \(inboxID) AND status IN ('pending', 'published')
            RETURNING id
            """, logger: logger) { updated += 1 }
        return updated == 1 ? .applied : .ignored
    }
}
