import Contracts
import Foundation
import Logging
import ServiceRuntime
import Synchronization

/// The real courier: email through the SMTP relays (with failover), WhatsApp through the Cloud
/// API client (offline without a token), webhooks through the signed sender.
struct ChannelCourier: Courier {
    let email: EmailRelays
    let whatsApp: WhatsAppClient
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
            return await whatsApp.send(WhatsAppMessage(to: phone, content: content), deliveryID: id)
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

/// The SMTP relays in order of preference, each behind a circuit breaker: the first whose breaker
/// allows takes the attempt; when every breaker is open the last relay still gets it (a message is
/// never held back only because every relay failed before). Breakers live in this process: each
/// replica learns a relay's health from its own attempts.
final class EmailRelays: Sendable {
    let relays: [SMTPRelay]
    let from: EmailAddress
    let client: SMTPClient
    let logger: Logger
    private let breakers: Mutex<[CircuitBreaker]>

    init(relays: [SMTPRelay], from: EmailAddress, client: SMTPClient, failoverAfter: Int, coolDown: Duration, logger: Logger) {
        self.relays = relays
        self.from = from
        self.client = client
        self.logger = logger
        self.breakers = Mutex(relays.map { _ in CircuitBreaker(threshold: failoverAfter, coolDown: coolDown) })
    }

    /// The relay that takes the next attempt, by index.
    func choose(now: Date) -> Int {
        breakers.withLock { breakers in
            for index in breakers.indices where breakers[index].allows(now: now) { return index }
            return breakers.count - 1
        }
    }

    func record(_ result: AttemptResult, relay index: Int, now: Date) {
        breakers.withLock { breakers in
            if CircuitBreaker.countsAsFailure(result) {
                breakers[index].recordFailure(now: now)
            } else {
                breakers[index].recordSuccess()
            }
        }
    }

    func send(_ message: OutgoingMessage, to address: String, name: String?) async -> AttemptResult {
        guard !relays.isEmpty else { return AttemptResult(outcome: .transient, provider: "smtp", reason: "no_relay_configured") }
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
        let index = choose(now: Date())
        let result = await client.send(email, via: relays[index])
        record(result, relay: index, now: Date())
        if index > 0 { logger.notice("email sent through a fallback relay", metadata: ["relay": "\(relays[index].name)", "outcome": "\(result.outcome.rawValue)"]) }
        return result
    }
}
