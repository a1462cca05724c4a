import Contracts
import Foundation

/// The one way the gateway announces a stored webhook: the `webhook-received` event on the raw
/// topic, for the first publication and for every replay of it.
///
/// - The first publication's id is the inbox id; a replay's is `<replay id>-<inbox id>` and
///   carries the replay id, so each publication is its own event while the normalizer derives
///   the same canonical events from both.
/// - The correlation id is the inbox id: everything a webhook causes shares it.
enum RawWebhookEvent {
    /// What is stored of a webhook and goes into its event.
    struct Stored: Equatable, Sendable {
        var inboxID: UUID
        var orgID: String
        var sourceID: String
        var provider: WebhookProvider
        var providerEventID: String
        var providerEventType: String
        var receivedAt: Date
        var trust: WebhookTrust
        var contentType: String
        var bodyBase64: String
        var bodySHA256: String
    }

    static func envelope(_ webhook: Stored, replayID: String? = nil, publishedAt: Date? = nil) -> EventEnvelope<WebhookReceived> {
        let inboxID = webhook.inboxID.uuidString.lowercased()
        return EventEnvelope(
            id: replayID.map { "\($0)-\(inboxID)" } ?? inboxID, source: "/tally/ingest-gateway",
            time: publishedAt ?? webhook.receivedAt, tenant: webhook.orgID,
            correlationID: inboxID, causationID: replayID == nil ? nil : inboxID,
            data: WebhookReceived(
                inboxID: inboxID, sourceID: webhook.sourceID, provider: webhook.provider, providerEventID: webhook.providerEventID,
                providerEventType: webhook.providerEventType, receivedAt: webhook.receivedAt, trust: webhook.trust, contentType: webhook.contentType,
                bodyBase64: webhook.bodyBase64, bodySHA256: webhook.bodySHA256, replayID: replayID
            )
        )
    }
}
