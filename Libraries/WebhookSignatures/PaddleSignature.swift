import Crypto
import Foundation

/// Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>…]`, HMAC-SHA256 keyed with the
/// notification-destination secret over `"<ts>:<raw body>"`.
public struct PaddleSignatureVerifier: WebhookVerifier {
    public static let header = "Paddle-Signature"
    public let tolerance: Duration

    public init(tolerance: Duration = .seconds(300)) { self.tolerance = tolerance }

    public func verify(_ request: WebhookRequest, secrets: [WebhookSecret], now: Date) throws(WebhookRefusal) -> VerifiedDelivery {
        guard !secrets.isEmpty else { throw .misconfiguredSource }
        let header = try request.require(Self.header)
        var timestamp: String?
        var signatures: [[UInt8]] = []
        for element in header.split(separator: ";") {
            let pair = element.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { throw .malformedHeader(Self.header) }
            switch pair[0] {
            case "ts": timestamp = pair[1]
            case "h1":
                guard let bytes = [UInt8](hex: pair[1]), bytes.count == 32 else { throw .malformedHeader(Self.header) }
                signatures.append(bytes)
            default: throw .malformedHeader(Self.header)
            }
        }
        guard let timestamp, !signatures.isEmpty else { throw .malformedHeader(Self.header) }
        let signedAt = try parseUnixSeconds(timestamp, header: Self.header)
        try checkTimestamp(signedAt, now: now, tolerance: tolerance)
        let payload = Data(timestamp.utf8) + Data(":".utf8) + Data(request.body)
        for secret in secrets {
            let key = SymmetricKey(data: Data(secret.value.utf8))
            for signature in signatures where HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: payload, using: key) {
                return VerifiedDelivery(secretID: secret.id, signedAt: signedAt, messageID: nil)
            }
        }
        throw .badSignature
    }

    /// The header value Paddle would send.
    public static func sign(body: [UInt8], secret: String, at time: Date) -> String {
        let timestamp = String(Int64(time.timeIntervalSince1970))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(timestamp.utf8) + Data(":".utf8) + Data(body), using: SymmetricKey(data: Data(secret.utf8)))
        return "ts=\(timestamp);h1=\([UInt8](mac).hex)"
    }
}
