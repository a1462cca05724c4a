import Contracts
import Crypto
import Foundation

/// The shape Stripe and Paddle share: one header with a timestamp and one or more hex
/// HMAC-SHA256 signatures over `"<timestamp><separator><raw body>"`, keyed with the secret's bytes.
struct TimestampedHMACScheme: Sendable {
    /// e.g. `Stripe-Signature`.
    let header: String
    /// Between `key=value` pairs: `,` for Stripe, `;` for Paddle.
    let pairSeparator: Character
    let timestampKey: String
    let signatureKey: String
    /// Between timestamp and body in the signed message: `.` for Stripe, `:` for Paddle.
    let messageSeparator: String
    /// Stripe adds other schemes (`v0`) that must be skipped; Paddle's parser refuses unknown keys.
    let ignoresUnknownKeys: Bool

    func verify(_ request: WebhookRequest, secrets: [WebhookSecret], now: Date, tolerance: Duration) throws(WebhookRefusal) -> VerifiedDelivery {
        guard !secrets.isEmpty else { throw .misconfiguredSource }
        let value = try request.require(header)
        var timestamp: String?
        var signatures: [[UInt8]] = []
        for element in value.split(separator: pairSeparator) {
            let pair = element.split(separator: "=", maxSplits: 1).map { String($0.trimmingSpaces) }
            guard pair.count == 2 else { throw .malformedHeader(header) }
            switch pair[0] {
            case timestampKey:
                timestamp = pair[1]
            case signatureKey:
                guard let bytes = [UInt8](hex: pair[1]), bytes.count == 32 else { throw .malformedHeader(header) }
                signatures.append(bytes)
            default:
                guard ignoresUnknownKeys else { throw .malformedHeader(header) }
            }
        }
        guard let timestamp, !signatures.isEmpty else { throw .malformedHeader(header) }
        let signedAt = try parseUnixSeconds(timestamp, header: header)
        try checkTimestamp(signedAt, now: now, tolerance: tolerance)
        let message = Data((timestamp + messageSeparator).utf8) + Data(request.body)
        for secret in secrets {
            let key = SymmetricKey(data: Data(secret.value.utf8))
            for signature in signatures where HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: message, using: key) {
                return VerifiedDelivery(secretID: secret.id, signedAt: signedAt, messageID: nil)
            }
        }
        throw .badSignature
    }

    /// The header value a sender with `secret` would send at `time`.
    func sign(body: [UInt8], secret: String, at time: Date) -> String {
        let timestamp = String(Int64(time.timeIntervalSince1970))
        let mac = HMAC<SHA256>.authenticationCode(for: Data((timestamp + messageSeparator).utf8) + Data(body), using: SymmetricKey(data: Data(secret.utf8)))
        return "\(timestampKey)=\(timestamp)\(pairSeparator)\(signatureKey)=\([UInt8](mac).lowercaseHex)"
    }
}
