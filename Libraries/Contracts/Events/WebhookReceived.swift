import Foundation

/// How far a webhook's origin was proven.
public enum WebhookTrust: String, Codable, Sendable, Equatable {
    /// Signed with a per-source secret and checked (Stripe, Paddle, Standard Webhooks).
    case verified
    /// Only a shared static token (Hotmart): must never move money on its own word alone.
    case low
}

/// The providers a source can belong to.
public enum WebhookProvider: String, Codable, Sendable, Equatable, CaseIterable {
    case stripe, paddle, hotmart, standard, `internal`
}

/// A webhook the gateway accepted and stored in its inbox, published on the raw-webhooks topic.
public struct WebhookReceived: EventPayload {
    public static let eventType = "tally.ingest.webhook-received.v1"
    public static let topic = TallyTopic.rawWebhooks

    public var inboxID: String
    public var sourceID: String
    public var provider: WebhookProvider
    public var providerEventID: String
    public var providerEventType: String
    public var receivedAt: Date
    public var trust: WebhookTrust
    public var contentType: String
    /// The exact bytes received, base64; signatures were verified over these bytes.
    public var bodyBase64: String
    public var bodySHA256: String
    /// Set when an operator re-published the webhook; the value is the replay id.
    public var replayID: String?

    public init(
        inboxID: String, sourceID: String, provider: WebhookProvider, providerEventID: String, providerEventType: String,
        receivedAt: Date, trust: WebhookTrust, contentType: String, bodyBase64: String, bodySHA256: String, replayID: String? = nil
    ) {
        self.inboxID = inboxID
        self.sourceID = sourceID
        self.provider = provider
        self.providerEventID = providerEventID
        self.providerEventType = providerEventType
        self.receivedAt = receivedAt
        self.trust = trust
        self.contentType = contentType
        self.bodyBase64 = bodyBase64
        self.bodySHA256 = bodySHA256
        self.replayID = replayID
    }

    public var partitionKey: String { "\(sourceID):\(providerEventID)" }

    enum CodingKeys: String, CodingKey {
        case inboxID = "inbox_id", sourceID = "source_id", provider
        case providerEventID = "provider_event_id", providerEventType = "provider_event_type"
        case receivedAt = "received_at", trust, contentType = "content_type"
        case bodyBase64 = "body_base64", bodySHA256 = "body_sha256", replayID = "replay_id"
    }
}
