import Foundation
import ServiceRuntime
import WebhookSignatures

/// Signs webhook deliveries the Standard Webhooks way (<https://www.standardwebhooks.com>), which
/// the `standardwebhooks` SDKs and Svix verify: `webhook-signature: v1,<base64 HMAC-SHA256>` over
/// `"{webhook-id}.{webhook-timestamp}.{body}"`, keyed by the bytes of a `whsec_<base64>` secret.
///
/// Guarantees: `sign` is pure and deterministic; it returns nil (and signs nothing) for a secret
/// that is not base64 of 16 to 64 bytes, with or without the `whsec_` prefix and padding; no
/// value here prints the secret.
enum StandardWebhookSignature {
    /// The prefix of Standard Webhooks symmetric secrets.
    static let secretPrefix = "whsec_"
    /// The bytes of key material in a new secret (Svix's choice; the spec asks for 24 to 64).
    static let newSecretByteCount = 24

    /// The `webhook-signature` value for one delivery, or nil when `secret` is unusable.
    static func sign(secret: String, id: String, timestamp: Int64, body: [UInt8]) -> String? {
        guard let key = WebhookSigningKey(secret: secret) else { return nil }
        return key.signature(id: id, timestamp: timestamp, body: body)
    }

    /// A new `whsec_` secret: 24 bytes from the system's cryptographically secure generator.
    static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<newSecretByteCount).map { _ in UInt8.random(in: UInt8.min...UInt8.max, using: &generator) }
        return secretPrefix + Data(bytes).base64EncodedString()
    }
}

/// A `whsec_` secret checked to be usable, ready to sign with (the signing itself is the one the
/// gateway verifies with: `StandardWebhooksVerifier.sign`). Its description never shows the key.
struct WebhookSigningKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let secret: RedactedSecret

    /// Nil unless `secret` is base64 (padding optional) of 16 to 64 bytes, after an optional `whsec_`.
    init?(secret: String) {
        var encoded = secret.hasPrefix(StandardWebhookSignature.secretPrefix) ? String(secret.dropFirst(StandardWebhookSignature.secretPrefix.count)) : secret
        guard !encoded.isEmpty, encoded.utf8.count <= 128 else { return nil }
        let remainder = encoded.utf8.count % 4
        if remainder == 2 || remainder == 3 { encoded += String(repeating: "=", count: 4 - remainder) }
        guard let raw = Data(base64Encoded: encoded), (16...64).contains(raw.count) else { return nil }
        self.secret = RedactedSecret(StandardWebhookSignature.secretPrefix + encoded)
    }

    /// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
    func signature(id: String, timestamp: Int64, body: [UInt8]) -> String {
        StandardWebhooksVerifier.sign(id: id, timestamp: Date(timeIntervalSince1970: TimeInterval(timestamp)), body: body, secret: secret.value) ?? ""
    }

    var description: String { "WebhookSigningKey([redacted])" }
    var debugDescription: String { description }
    var customMirror: Mirror { Mirror(self, unlabeledChildren: [String]()) }
}
