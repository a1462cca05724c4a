import Contracts
import Foundation
import Kafka
import Logging
import PostgresNIO
import Storage

/// Normalizes raw webhook events inside the consumer inbox's transaction. In that one transaction
/// it writes the canonical events and the outcome events to the outbox, the lineage rows and the
/// outcome rows, so all of them commit together or not at all.
///
/// - A batch is written with one statement per table and org (lineage, outbox, outcomes), however
///   many events it holds; only the ordering fence runs per fenced event, in batch order.
/// - Canonical event ids derive from the inbox id and the position, and the outbox skips ids it
///   already holds: normalizing a webhook again (a replay of the raw topic or of the inbox)
///   reproduces the same events and publishes none twice.
/// - Subscriptions and invoices pass an ordering fence (`fence`): a late, older state change is
///   recorded as superseded in lineage and not emitted, so consumers never roll state back.
/// - A payload the mapping cannot read gets a `failed` outcome, and the raw message goes to the
///   normalizer's dead-letter topic with the reason. The partition moves on.
/// - An envelope that is not a raw-webhook event at all is thrown, so the consumer inbox retries
///   the batch event by event and dead-letters that one event.
struct RawWebhookHandler: Sendable {
    let schema: ServiceSchema
    let logger: Logger
    let normalizer = Normalizer()

    /// Applies `messages` (new raw events, in partition order) and returns their outcomes in order.
    func handle(_ messages: [KafkaConsumerMessage], on connection: PostgresConnection) async throws -> [InboxOutcome] {
        let raws = try messages.map { try CanonicalJSON.decode(EventEnvelope<WebhookReceived>.self, from: $0.value ?? []) }
        var outcomes = [InboxOutcome](repeating: .ignored, count: messages.count)
        let now = RFC3339.string(Date())
        // Row-level security scopes writes to one org at a time: one group per org, each in
        // arrival order (events of one object always belong to one org).
        for group in try raws.indices.groupedByTenant({ raws[$0].tenant }) {
            try await connection.setTenant(group.tenant, logger: logger)
            var writes = Writes()
            for index in group.elements {
                outcomes[index] = try await normalize(raws[index], message: messages[index], now: now, into: &writes, on: connection)
            }
            try await writes.store(schema: schema, on: connection, logger: logger)
        }
        return outcomes
    }

    /// Decides one raw event's canonical events, lineage and outcome, adding the rows to `writes`.
    private func normalize(_ raw: EventEnvelope<WebhookReceived>, message: KafkaConsumerMessage, now: String,
                           into writes: inout Writes, on connection: PostgresConnection) async throws -> InboxOutcome {
        // A replay is a new raw event for the same inbox row: its outcome is its own.
        let outcomeID = CanonicalID.derive(inboxID: raw.data.inboxID + (raw.data.replayID.map { "/" + $0 } ?? ""), position: -1)

        let normalization: Result<Normalization, MalformedPayload>
        do { normalization = .success(try normalizer.normalize(raw.data)) } catch { normalization = .failure(error) }

        let status: WebhookOutcome.Status
        let reason: String?
        var canonicalIDs: [String] = []
        switch normalization {
        case .success(.ignored(let why)):
            (status, reason) = (.ignored, why)
        case .success(.events(let events)):
            var superseded: [String] = []
            for (position, event) in events.enumerated() {
                let id = CanonicalID.derive(inboxID: raw.data.inboxID, position: position)
                let disposition = try await fence(event, canonicalID: id, tenant: raw.tenant, decided: &writes.dispositions, on: connection)
                writes.lineage.append(.init(canonicalEventID: id, orgID: raw.tenant, inboxID: raw.data.inboxID, position: position,
                                            eventType: event.eventType, provider: raw.data.provider.rawValue, disposition: disposition))
                guard disposition == .emitted else {
                    superseded.append(id)
                    continue
                }
                canonicalIDs.append(id)
                writes.outbox.append(try event.outboxMessage(id: id, time: now, tenant: raw.tenant, correlationID: raw.correlationid, causationID: raw.id))
            }
            if canonicalIDs.isEmpty && !superseded.isEmpty {
                (status, reason) = (.superseded, "a newer provider version of the same object was already applied")
            } else {
                (status, reason) = (.processed, nil)
            }
        case .failure(let malformed):
            (status, reason) = (.failed, malformed.description)
            writes.outbox.append(OutboxMessage(
                eventID: "dlq-\(raw.id)", topic: TallyTopic.deadLetters(of: "normalizer").name, key: raw.subject, payload: message.value ?? [],
                headers: ["x-tally-dlq-reason": malformed.description, "x-tally-dlq-topic": message.topic,
                          "x-tally-dlq-partition": String(message.partition.rawValue), "x-tally-dlq-offset": String(message.offset.rawValue)],
                orgID: raw.tenant
            ))
            logger.warning("raw webhook could not be normalized", metadata: ["inbox_id": "\(raw.data.inboxID)", "reason": "\(malformed.description)"])
        }
        writes.outbox.append(try OutboxMessage(EventEnvelope(
            id: outcomeID, source: "/tally/normalizer", time: now, tenant: raw.tenant, correlationID: raw.correlationid, causationID: raw.id,
            data: WebhookOutcome(inboxID: raw.data.inboxID, status: status, canonicalEventIDs: canonicalIDs, reason: reason)
        )))
        writes.outcomes.append(.init(rawEventID: raw.id, orgID: raw.tenant, inboxID: raw.data.inboxID, provider: raw.data.provider.rawValue,
                                     providerEventType: raw.data.providerEventType, outcome: status.rawValue, reason: reason,
                                     receivedAt: raw.data.receivedAt))
        return status == .processed ? .applied : .ignored
    }

    /// The rows one org's part of a batch writes, stored with one statement per table.
    struct Writes {
        struct Lineage {
            var canonicalEventID, orgID, inboxID: String
            var position: Int
            var eventType, provider: String
            var disposition: Disposition
        }
        struct Outcome {
            var rawEventID, orgID, inboxID, provider, providerEventType, outcome: String
            var reason: String?
            var receivedAt: String
        }
        var lineage: [Lineage] = []
        var outbox: [OutboxMessage] = []
        var outcomes: [Outcome] = []
        /// Fence decisions made earlier in this batch, whose lineage rows are not written yet.
        var dispositions: [String: Disposition] = [:]

        func store(schema: ServiceSchema, on connection: PostgresConnection, logger: Logger) async throws {
            if !lineage.isEmpty {
                try await connection.query("""
                    INSERT INTO \(unescaped: schema.name).lineage (canonical_event_id, org_id, source_inbox_id, position, event_type, provider, disposition)
                    SELECT * FROM unnest(\(lineage.map(\.canonicalEventID))::text[], \(lineage.map(\.orgID))::text[], \(lineage.map(\.inboxID))::text[],
                                         \(lineage.map(\.position))::int4[], \(lineage.map(\.eventType))::text[], \(lineage.map(\.provider))::text[],
                                         \(lineage.map(\.disposition.rawValue))::text[])
                    ON CONFLICT (canonical_event_id) DO NOTHING
                    """, logger: logger)
            }
            try await Outbox(schema: schema).enqueue(outbox, on: connection, logger: logger)
            guard !outcomes.isEmpty else { return }
            // An empty reason is stored as NULL: a text array cannot carry NULLs from here.
            try await connection.query("""
                INSERT INTO \(unescaped: schema.name).raw_outcomes (raw_event_id, org_id, source_inbox_id, provider, provider_event_type, outcome, reason, received_at)
                SELECT o.raw_event_id, o.org_id, o.source_inbox_id, o.provider, o.provider_event_type, o.outcome, NULLIF(o.reason, ''), o.received_at::timestamptz
                FROM unnest(\(outcomes.map(\.rawEventID))::text[], \(outcomes.map(\.orgID))::text[], \(outcomes.map(\.inboxID))::text[],
                            \(outcomes.map(\.provider))::text[], \(outcomes.map(\.providerEventType))::text[], \(outcomes.map(\.outcome))::text[],
                            \(outcomes.map { $0.reason ?? "" })::text[], \(outcomes.map(\.receivedAt))::text[])
                     AS o(raw_event_id, org_id, source_inbox_id, provider, provider_event_type, outcome, reason, received_at)
                ON CONFLICT (raw_event_id) DO NOTHING
                """, logger: logger)
        }
    }

    enum Disposition: String { case emitted, superseded }

    /// The ordering fence. Additive facts are always emitted. A state change is emitted when its
    /// provider version is at least the newest already applied to its object (ties go to the
    /// later arrival), and then becomes that object's version; an older one is superseded.
    /// A canonical event seen before keeps its first disposition, so normalizing a webhook again
    /// (a replay) decides exactly as the first time did, whatever arrived in between.
    func fence(_ event: CanonicalEvent, canonicalID: String, tenant: String, decided: inout [String: Disposition],
               on connection: PostgresConnection) async throws -> Disposition {
        guard let object = event.fencedObject else { return .emitted }
        if let earlier = decided[canonicalID] { return earlier }
        let disposition = try await decide(object, canonicalID: canonicalID, tenant: tenant, on: connection)
        decided[canonicalID] = disposition
        return disposition
    }

    private func decide(_ object: FencedObject, canonicalID: String, tenant: String, on connection: PostgresConnection) async throws -> Disposition {
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
