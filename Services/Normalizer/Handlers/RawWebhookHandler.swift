import Contracts
import Foundation
import Kafka
import Logging
import PostgresNIO
import Storage

/// Normalizes one raw webhook event inside the consumer inbox's transaction. In that one
/// transaction it writes the canonical events and the outcome event to the outbox, the lineage
/// rows and the outcome row, so all of them commit together or not at all.
///
/// - Canonical event ids derive from the inbox id and the position, and the outbox skips ids it
///   already holds: normalizing a webhook again (a replay of the raw topic or of the inbox)
///   reproduces the same events and publishes none twice.
/// - Subscriptions and invoices pass an ordering fence (`fence`): a late, older state change is
///   recorded as superseded in lineage and not emitted, so consumers never roll state back.
/// - A payload the mapping cannot read gets a `failed` outcome, and the raw message goes to the
///   normalizer's dead-letter topic with the reason. The partition moves on.
/// - An envelope that is not a raw-webhook event at all is thrown, so the consumer inbox
///   dead-letters it.
struct RawWebhookHandler: Sendable {
    let schema: ServiceSchema
    let logger: Logger
    let normalizer = Normalizer()

    func handle(_ message: KafkaConsumerMessage, on connection: PostgresConnection) async throws -> InboxOutcome {
        let raw = try CanonicalJSON.decode(EventEnvelope<WebhookReceived>.self, from: message.value ?? [])
        guard let tenant = TenantID(rawValue: raw.tenant) else { throw StorageError.missingTenant }
        try await connection.setTenant(tenant, logger: logger)
        let now = RFC3339.string(Date())
        let outbox = Outbox(schema: schema)
        // A replay is a new raw event for the same inbox row: its outcome is its own.
        let outcomeID = CanonicalID.derive(inboxID: raw.data.inboxID + (raw.data.replayID.map { "/" + $0 } ?? ""), position: -1)

        let normalization: Result<Normalization, MalformedPayload>
        do { normalization = .success(try normalizer.normalize(raw.data)) } catch { normalization = .failure(error) }

        let status: WebhookOutcome.Status
        let reason: String?
        var canonicalIDs: [String] = []
        var messages: [OutboxMessage] = []
        switch normalization {
        case .success(.ignored(let why)):
            (status, reason) = (.ignored, why)
        case .success(.events(let events)):
            var superseded: [String] = []
            for (position, event) in events.enumerated() {
                let id = CanonicalID.derive(inboxID: raw.data.inboxID, position: position)
                let disposition = try await fence(event, canonicalID: id, tenant: raw.tenant, on: connection)
                try await connection.query("""
                    INSERT INTO \(unescaped: schema.name).lineage (canonical_event_id, org_id, source_inbox_id, position, event_type, provider, disposition)
                    VALUES (\(id), \(raw.tenant), \(raw.data.inboxID), \(position), \(event.eventType), \(raw.data.provider.rawValue), \(disposition.rawValue))
                    ON CONFLICT (canonical_event_id) DO NOTHING
                    """, logger: logger)
                guard disposition == .emitted else {
                    superseded.append(id)
                    continue
                }
                canonicalIDs.append(id)
                messages.append(try event.outboxMessage(id: id, time: now, tenant: raw.tenant, correlationID: raw.correlationid, causationID: raw.id))
            }
            if canonicalIDs.isEmpty && !superseded.isEmpty {
                (status, reason) = (.superseded, "a newer provider version of the same object was already applied")
            } else {
                (status, reason) = (.processed, nil)
            }
        case .failure(let malformed):
            (status, reason) = (.failed, malformed.description)
            messages.append(OutboxMessage(
                eventID: "dlq-\(raw.id)", topic: TallyTopic.deadLetters(of: "normalizer").name, key: raw.subject, payload: message.value ?? [],
                headers: ["x-tally-dlq-reason": malformed.description, "x-tally-dlq-topic": message.topic,
                          "x-tally-dlq-partition": String(message.partition.rawValue), "x-tally-dlq-offset": String(message.offset.rawValue)],
                orgID: raw.tenant
            ))
            logger.warning("raw webhook could not be normalized", metadata: ["inbox_id": "\(raw.data.inboxID)", "reason": "\(malformed.description)"])
        }
        messages.append(try OutboxMessage(EventEnvelope(
            id: outcomeID, source: "/tally/normalizer", time: now, tenant: raw.tenant, correlationID: raw.correlationid, causationID: raw.id,
            data: WebhookOutcome(inboxID: raw.data.inboxID, status: status, canonicalEventIDs: canonicalIDs, reason: reason)
        )))
        try await outbox.enqueue(messages, on: connection, logger: logger)
        try await connection.query("""
            INSERT INTO \(unescaped: schema.name).raw_outcomes (raw_event_id, org_id, source_inbox_id, provider, provider_event_type, outcome, reason, received_at)
            VALUES (\(raw.id), \(raw.tenant), \(raw.data.inboxID), \(raw.data.provider.rawValue), \(raw.data.providerEventType), \(status.rawValue), \(reason), \(raw.data.receivedAt)::timestamptz)
            ON CONFLICT (raw_event_id) DO NOTHING
            """, logger: logger)
        return status == .processed ? .applied : .ignored
    }

    enum Disposition: String { case emitted, superseded }

    /// The ordering fence. Additive facts are always emitted. A state change is emitted when its
    /// provider version is at least the newest already applied to its object (ties go to the
    /// later arrival), and then becomes that object's version; an older one is superseded.
    /// A canonical event seen before keeps its first disposition, so normalizing a webhook again
    /// (a replay) decides exactly as the first time did, whatever arrived in between.
    func fence(_ event: CanonicalEvent, canonicalID: String, tenant: String, on connection: PostgresConnection) async throws -> Disposition {
        guard let object = event.fencedObject else { return .emitted }
        for try await earlier in try await connection.query("""
            SELECT disposition FROM \(unescaped: schema.name).lineage WHERE canonical_event_id = \(canonicalID)
            """, logger: logger).decode(String.self) {
            return Disposition(rawValue: earlier) ?? .emitted
        }
        var applied = false
        for try await _ in try await connection.query("""
            INSERT INTO \(unescaped: schema.name).object_versions (org_id, provider, object_kind, object_id, version, canonical_event_id)
            VALUES (\(tenant), \(object.provider.rawValue), \(object.kind.rawValue), \(object.objectID), \(object.version)::timestamptz, \(canonicalID))
            ON CONFLICT (org_id, provider, object_kind, object_id) DO UPDATE
            SET version = EXCLUDED.version, canonical_event_id = EXCLUDED.canonical_event_id, updated_at = now()
            WHERE object_versions.version <= EXCLUDED.version
            RETURNING 1
            """, logger: logger) { applied = true }
        if !applied {
            logger.info("state change superseded by a newer provider version", metadata: [
                "object": "\(object.kind.rawValue):\(object.objectID)", "version": "\(object.version)", "canonical_event_id": "\(canonicalID)",
            ])
        }
        return applied ? .emitted : .superseded
    }
}
