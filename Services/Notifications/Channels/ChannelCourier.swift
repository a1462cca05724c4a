import Contracts
import Foundation
import Logging
import ServiceRuntime

/// The real courier: email through the SMTP relays (with failover), WhatsApp through the Cloud
/// API client (offline without a token), webhooks through the signed sender.
struct ChannelCourier: Courier {
    let email: EmailRelays
    /// The WhatsApp accounts, the first preferred (one unless a fallback is configured).
    let whatsApp: Failover<WhatsAppClient>
    let webhooks: WebhookSender
    let logger: Logger

    func deliver(_ message: OutgoingMessage) async -> AttemptResult {
        let id = message.deliveryID.uuidString.lowercased()
        switch message.destination {
        case .email(let address, let name):
            return await email.send(message, to: address, name: name)
        case .whatsapp(let phone):
            let content: WhatsAppMessage.Content =
                message.rendered.whatsApp.map { .template(name: $0.name, language: $0.languageCode, parameters: $0.bodyParameters) }
                ?? .text(message.rendered.text)
            let sent = await whatsApp.attempt { client in await client.send(WhatsAppMessage(to: phone, content: content), deliveryID: id) }
            return sent ?? AttemptResult(outcome: .transient, provider: "whatsapp", reason: "no_account_configured")
        case .webhook(let endpoint):
            let body: [UInt8]
            do {
                body = try CanonicalJSON.encode(WebhookPayload(message))
            } catch {
                return AttemptResult(outcome: .permanent, provider: WebhookSender.provider, reason: "payload_unencodable")
            }
            return await webhooks.send(WebhookMessage(deliveryID: id, endpointURL: endpoint.url, secret: RedactedSecret(endpoint.secret), body: body))
        }
    }
}

/// What a tenant's endpoint receives: the Standard Webhooks shape (`type`, `timestamp`, `data`).
struct WebhookPayload: Encodable {
    struct Data: Encodable {
        var deliveryID: String
        var dedupeKey: String
        var templateKey: String
        var locale: String
        var subject: String
        var text: String
        enum CodingKeys: String, CodingKey {
            case deliveryID = "delivery_id", dedupeKey = "dedupe_key", templateKey = "template_key", locale, subject, text
        }
    }
    var type: String
    var timestamp: Date
    var data: Data

    init(_ message: OutgoingMessage, now: Date = Date()) {
        type = "notification." + message.rendered.templateKey
        timestamp = now
        data = Data(
            deliveryID: message.deliveryID.uuidString.lowercased(), dedupeKey: message.dedupeKey, templateKey: message.rendered.templateKey,
            locale: message.rendered.locale, subject: message.rendered.subject, text: message.rendered.text)
    }
}

/// Email through the SMTP relays, in order of preference behind the channel's `Failover`.
struct EmailRelays: Sendable {
    let relays: Failover<SMTPRelay>
    let from: EmailAddress
    let client: SMTPClient
    let logger: Logger

    func send(_ message: OutgoingMessage, to address: String, name: String?) async -> AttemptResult {
        guard let mailbox = EmailMailbox(address) else {
            return AttemptResult(outcome: .permanent, provider: "smtp", reason: "invalid_address", detail: "the recipient's address cannot be sent over SMTP")
        }
        let email: EmailMessage
        do {
            email = try EmailMessage(
                deliveryID: message.deliveryID.uuidString.lowercased(), from: from, to: EmailAddress(mailbox, displayName: name),
                subject: message.rendered.subject, textBody: message.rendered.text, htmlBody: message.rendered.html, date: Date())
        } catch {
            return AttemptResult(outcome: .permanent, provider: "smtp", reason: "message_invalid", detail: "\(error)")
        }
        let result = await relays.attempt { relay in await client.send(email, via: relay) }
        guard let result else { return AttemptResult(outcome: .transient, provider: "smtp", reason: "no_relay_configured") }
        if result.provider != relays.providers.first?.provider {
            logger.notice("email went through a fallback relay", metadata: ["provider": "\(result.provider)", "outcome": "\(result.outcome.rawValue)"])
        }
        return result
    }
}
