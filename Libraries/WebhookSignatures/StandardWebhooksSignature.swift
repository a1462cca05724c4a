import Crypto
import Foundation

/// Standard Webhooks (and Svix, which uses the same scheme under `svix-*` header names):
/// `webhook-id`, `webhook-timestamp`, `webhook-signature` holding space-separated
/// `v1,<base64 HMAC-SHA256>` and/or `v1a,<base64 Ed25519>` signatures over `"<id>.<timestamp>.<body>"`.
///
/// Symmetric secrets are `whsec_<base64 key>`; asymmetric ones are verified with the sender's
/// `whpk_<base64 public key>`. A secret may also be given without its prefix (raw base64).
public struct StandardWebhooksVerifier: WebhookVerifier {
    public let tolerance: Duration

    public init(tolerance: Duration = .seconds(300)) { self.tolerance = tolerance }

    public func verify(_ request: WebhookRequest, secrets: [WebhookSecret], now: Date) throws(WebhookRefusal) -> VerifiedDelivery {
        let keys = secrets.compactMap { Key($0) }
        guard !keys.isEmpty else { throw .misconfiguredSource }
        let prefix = request.header("webhook-id") == nil && request.header("svix-id") != nil ? "svix" : "webhook"
        let id = try request.require("\(prefix)-id")
        let timestamp = try request.require("\(prefix)-timestamp")
        let signatureHeader = try request.require("\(prefix)-signature")
        let signedAt = try parseUnixSeconds(timestamp, header: "\(prefix)-timestamp")
        try checkTimestamp(signedAt, now: now, tolerance: tolerance)

        var symmetric: [Data] = []
        var asymmetric: [Data] = []
        for token in signatureHeader.split(separator: " ") where !token.isEmpty {
            let parts = token.split(separator: ",", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw .malformedHeader("\(prefix)-signature") }
            // Versions this verifier does not know are skipped, as the spec requires.
            guard parts[0] == "v1" || parts[0] == "v1a" else { continue }
            guard let signature = Data(base64Encoded: parts[1]) else { throw .malformedHeader("\(prefix)-signature") }
            if parts[0] == "v1" { symmetric.append(signature) } else { asymmetric.append(signature) }
        }
        guard !symmetric.isEmpty || !asymmetric.isEmpty else { throw .malformedHeader("\(prefix)-signature") }
        let content = Data("\(id).\(timestamp).".utf8) + Data(request.body)
        for key in keys {
            switch key.material {
            case .hmac(let secret):
                for signature in symmetric where HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: content, using: secret) {
                    return VerifiedDelivery(secretID: key.id, signedAt: signedAt, messageID: id)
                }
            case .ed25519(let publicKey):
                for signature in asymmetric where publicKey.isValidSignature(signature, for: content) {
                    return VerifiedDelivery(secretID: key.id, signedAt: signedAt, messageID: id)
                }
            }
        }
        throw .badSignature
    }

    /// The `webhook-signature` value a Standard Webhooks sender with `secret` (`whsec_…`) sends.
    public static func sign(id: String, timestamp: Date, body: [UInt8], secret: String) -> String? {
        guard let key = Key(WebhookSecret(id: "sign", value: secret)), case .hmac(let symmetric) = key.material else { return nil }
        let content = Data("\(id).\(Int64(timestamp.timeIntervalSince1970)).".utf8) + Data(body)
        return "v1,\(Data(HMAC<SHA256>.authenticationCode(for: content, using: symmetric)).base64EncodedString())"
    }

    /// A parsed secret.
    struct Key {
        enum Material {
            case hmac(SymmetricKey)
            case ed25519(Curve25519.Signing.PublicKey)
        }
        let id: String
        let material: Material

        init?(_ secret: WebhookSecret) {
            id = secret.id
            if secret.value.hasPrefix("whpk_") {
                guard let raw = Data(base64Encoded: String(secret.value.dropFirst(5))),
                    let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
                else { return nil }
                material = .ed25519(key)
            } else {
                let encoded = secret.value.hasPrefix("whsec_") ? String(secret.value.dropFirst(6)) : secret.value
                guard let raw = Data(base64Encoded: encoded), raw.count >= 16 else { return nil }
                material = .hmac(SymmetricKey(data: raw))
            }
        }
    }
}
