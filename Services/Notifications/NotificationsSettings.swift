import Foundation
import ServiceRuntime

/// The notifications service's own settings, read after the shared configuration; a bad value
/// stops the start with exit code 78 and the variable's name. Never prints a secret.
///
/// - Email: `TALLY_NOTIFY_FROM` (`Tally <notifications@tally.localhost>`), the primary relay
///   `TALLY_SMTP_*` and an optional fallback `TALLY_SMTP_FALLBACK_*` (see `SMTPRelay`), and the
///   failover breaker: `TALLY_NOTIFY_FAILOVER_AFTER` consecutive failures (3) open it for
///   `TALLY_NOTIFY_FAILOVER_COOLDOWN_SECONDS` (60) before a probe.
/// - WhatsApp: `TALLY_WHATSAPP_*` (see `WhatsAppSettings`); without a token, or with
///   `WA_OFFLINE=1`, messages are stored instead of sent. A fallback account
///   (`TALLY_WHATSAPP_FALLBACK_*`) takes over behind the same kind of breaker as the relays.
/// - Webhooks: `TALLY_WEBHOOK_TIMEOUT_SECONDS` (15) and, for tests on loopback only,
///   `TALLY_WEBHOOK_ALLOW_LOOPBACK_HTTP=1` (refused when `TALLY_ENV=prod`).
/// - The worker: see `DeliverySettings.init(environment:longestSend:)`.
struct NotificationsSettings: ServiceSettings, CustomStringConvertible {
    var from: EmailAddress
    var relays: [SMTPRelay]
    var failoverAfter: Int
    var failoverCoolDown: Duration
    var whatsApp: WhatsAppSettings
    /// A second account that takes over behind the breaker (`TALLY_WHATSAPP_FALLBACK_*`, with a token).
    var whatsAppFallback: WhatsAppSettings?
    var webhooks: WebhookSenderSettings
    var delivery: DeliverySettings
    /// Seals and opens the webhook endpoints' signing secrets (`TALLY_SECRETS_KEY`, as the
    /// gateway's; a fixed development key outside production).
    var secrets: SecretBox

    init(
        from: EmailAddress, relays: [SMTPRelay], failoverAfter: Int = 3, failoverCoolDown: Duration = .seconds(60), whatsApp: WhatsAppSettings,
        webhooks: WebhookSenderSettings = WebhookSenderSettings(), delivery: DeliverySettings = DeliverySettings(), secrets: SecretBox
    ) {
        self.secrets = secrets
        self.from = from
        self.relays = relays
        self.failoverAfter = failoverAfter
        self.failoverCoolDown = failoverCoolDown
        self.whatsApp = whatsApp
        self.whatsAppFallback = nil
        self.webhooks = webhooks
        self.delivery = delivery
    }

    init(environment: EnvironmentReader, configuration: ServiceConfiguration) throws(ConfigurationError) {
        let fromText = try environment.string("TALLY_NOTIFY_FROM", default: "Tally <notifications@tally.localhost>")
        guard let from = Self.address(fromText) else {
            throw .invalid(variable: "TALLY_NOTIFY_FROM", reason: "expected an address such as 'Tally <notifications@example.com>'")
        }
        self.from = from
        var relays: [SMTPRelay] = []
        for (prefix, name) in [("TALLY_SMTP_", "primary"), ("TALLY_SMTP_FALLBACK_", "fallback")] {
            if let relay = try SMTPRelay(environment: environment, prefix: prefix, name: name, heloName: configuration.serviceName, deployment: configuration.environment) {
                relays.append(relay)
            }
        }
        self.relays = relays
        failoverAfter = try environment.integer("TALLY_NOTIFY_FAILOVER_AFTER", default: 3, range: 1...100)
        failoverCoolDown = .seconds(try environment.integer("TALLY_NOTIFY_FAILOVER_COOLDOWN_SECONDS", default: 60, range: 1...3600))
        var whatsApp = try WhatsAppSettings(environment: environment, deployment: configuration.environment)
        let offline = environment.optional("WA_OFFLINE") == "1"
        if offline { whatsApp.token = nil }
        self.whatsApp = whatsApp
        let hasFallback = !(environment.optional("TALLY_WHATSAPP_FALLBACK_TOKEN") ?? "").isEmpty
        whatsAppFallback =
            hasFallback && !offline && whatsApp.isLive
            ? try WhatsAppSettings(environment: environment, deployment: configuration.environment, prefix: "TALLY_WHATSAPP_FALLBACK_", name: "fallback") : nil
        let allowLoopback = environment.optional("TALLY_WEBHOOK_ALLOW_LOOPBACK_HTTP") == "1"
        if allowLoopback, configuration.environment == .prod {
            throw .invalid(variable: "TALLY_WEBHOOK_ALLOW_LOOPBACK_HTTP", reason: "loopback endpoints are for tests; TALLY_ENV=prod refuses them")
        }
        webhooks = WebhookSenderSettings(
            timeout: .seconds(try environment.integer("TALLY_WEBHOOK_TIMEOUT_SECONDS", default: 15, range: 1...60)), allowLoopbackHTTP: allowLoopback)
        delivery = try DeliverySettings(environment: environment)
        secrets = try SecretBox(environment: environment, deployment: configuration.environment)
        for (variable, timeout) in [("TALLY_WEBHOOK_TIMEOUT_SECONDS", webhooks.timeout), ("TALLY_WHATSAPP_TIMEOUT_SECONDS", whatsApp.timeout)]
        where timeout > delivery.sendDeadline {
            throw .invalid(variable: variable, reason: "must not exceed TALLY_NOTIFY_SEND_DEADLINE_SECONDS (\(delivery.sendDeadline))")
        }
    }

    /// `Name <local@domain>` or a bare `local@domain`.
    static func address(_ text: String) -> EmailAddress? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") else { return EmailMailbox(trimmed).map { EmailAddress($0) } }
        let name = trimmed[..<open].trimmingCharacters(in: .whitespaces)
        guard let mailbox = EmailMailbox(String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])) else { return nil }
        return EmailAddress(mailbox, displayName: name.isEmpty ? nil : name)
    }

    var description: String {
        "NotificationsSettings(relays: \(relays), whatsApp: \(whatsApp), webhooks: \(webhooks), delivery: \(delivery))"
    }
}
