import Contracts
import Foundation

/// Whether a canonical event passed the ordering fence.
enum Disposition: String, Sendable, Equatable { case emitted, superseded }

/// Everything normalizing one raw webhook writes, decided without the database: given the raw
/// event, what its mapping made of it and the fence's dispositions, the lineage, the outbox
/// messages (canonical events, the outcome, a dead letter) and the outcome row.
///
/// - Canonical event ids derive from the inbox id and the position; the outcome's id from the
///   inbox id and the replay id, so a replay has an outcome of its own. Deciding again for the
///   same input gives the same rows and ids: nothing is published twice.
/// - A superseded state change is listed in lineage and not emitted; a webhook whose every event
///   was superseded is `superseded`, not `processed`.
/// - A payload the mapping cannot read is `failed`, and its raw message goes, unchanged, to the
///   normalizer's dead-letter topic with the reason.
struct RawWebhookDecision: Equatable {
    struct LineageRow: Equatable {
        var canonicalEventID: String
        var inboxID: String
        var position: Int
        var eventType: String
        var provider: String
        var disposition: Disposition
    }

    struct OutcomeRow: Equatable {
        var rawEventID, inboxID, provider, providerEventType: String
        var status: WebhookOutcome.Status
        var reason: String?
        var receivedAt: Date
    }

    var lineage: [LineageRow] = []
    var outbox: [OutboxMessage] = []
    var outcome: OutcomeRow
    /// What the inbox records: `applied` when canonical events were emitted.
    var inboxOutcome: InboxOutcome { outcome.status == .processed ? .applied : .ignored }

    /// The id of the outcome event of `raw` (its replay's own when it is a replay).
    static func outcomeID(of raw: WebhookReceived) -> String {
        CanonicalID.derive(inboxID: raw.inboxID + (raw.replayID.map { "/" + $0 } ?? ""), position: -1)
    }

    /// The fence input of each canonical event of `normalization`, by canonical id.
    static func fencedObjects(of raw: WebhookReceived, _ normalization: Normalization) -> [(canonicalID: String, object: FencedObject)] {
        guard case .events(let events) = normalization else { return [] }
        return events.enumerated().compactMap { position, event in
            event.fencedObject.map { (CanonicalID.derive(inboxID: raw.inboxID, position: position), $0) }
        }
    }

    /// Decides the rows for `event`. `dispositions` holds the fence's answer for each fenced
    /// canonical id (an id missing there is emitted); `group` names the consumer in a dead letter.
    init(
        _ event: InboxEvent<WebhookReceived>, normalization: Result<Normalization, MalformedPayload>,
        dispositions: [String: Disposition], now: Date, group: String
    ) throws {
        let raw = event.data
        let envelope = event.envelope
        let status: WebhookOutcome.Status
        let reason: String?
        var canonicalIDs: [String] = []
        switch normalization {
        case .success(.ignored(let why)):
            (status, reason) = (.ignored, why)
        case .success(.events(let events)):
            var superseded = 0
            for (position, canonical) in events.enumerated() {
                let id = CanonicalID.derive(inboxID: raw.inboxID, position: position)
                let disposition = dispositions[id] ?? .emitted
                lineage.append(
                    LineageRow(
                        canonicalEventID: id, inboxID: raw.inboxID, position: position, eventType: canonical.eventType,
                        provider: raw.provider.rawValue, disposition: disposition))
                guard disposition == .emitted else {
                    superseded += 1
                    continue
                }
                canonicalIDs.append(id)
                outbox.append(try canonical.outboxMessage(id: id, time: now, tenant: envelope.tenant, correlationID: envelope.correlationid, causationID: envelope.id))
            }
            if canonicalIDs.isEmpty && superseded > 0 {
                (status, reason) = (.superseded, "a newer provider version of the same object was already applied")
            } else {
                (status, reason) = (.processed, nil)
            }
        case .failure(let malformed):
            (status, reason) = (.failed, malformed.description)
            let metadata = event.metadata
            let dead = DeadLetterHeaders(reason: malformed.description, topic: metadata.topic, partition: metadata.partition, offset: metadata.offset, group: group)
            outbox.append(
                OutboxMessage(
                    eventID: "dlq-\(envelope.id)", topic: TallyService.normalizer.deadLetterTopic.name, key: envelope.subject,
                    payload: metadata.value, headers: dead.fields, orgID: envelope.tenant))
        }
        outbox.append(
            try OutboxMessage(
                EventEnvelope(
                    id: Self.outcomeID(of: raw), source: "/tally/normalizer", time: now, tenant: envelope.tenant, correlationID: envelope.correlationid,
                    causationID: envelope.id, data: WebhookOutcome(inboxID: raw.inboxID, status: status, canonicalEventIDs: canonicalIDs, reason: reason)
                )))
        outcome = OutcomeRow(
            rawEventID: envelope.id, inboxID: raw.inboxID, provider: raw.provider.rawValue, providerEventType: raw.providerEventType,
            status: status, reason: reason, receivedAt: raw.receivedAt)
    }
}
