/// What the normalizer did with one raw webhook; the gateway sets the inbox status from it.
public struct WebhookOutcome: EventPayload {
    public static let eventType = "tally.normalizer.webhook-outcome.v1"
    public static let topic = TallyTopic.webhookOutcomes

    public enum Status: String, Codable, Sendable, Equatable {
        case processed, ignored, superseded, failed
    }

    public var inboxID: String
    public var status: Status
    /// The canonical events emitted, in order (empty unless `processed`).
    public var canonicalEventIDs: [String]
    /// Why it was ignored, superseded or failed; nil when processed.
    public var reason: String?

    public init(inboxID: String, status: Status, canonicalEventIDs: [String], reason: String?) {
        self.inboxID = inboxID
        self.status = status
        self.canonicalEventIDs = canonicalEventIDs
        self.reason = reason
    }

    public var partitionKey: String { inboxID }

    enum CodingKeys: String, CodingKey {
        case inboxID = "inbox_id", status, canonicalEventIDs = "canonical_event_ids", reason
    }
}
