import Crypto
import Foundation

/// Hotmart: a static shared token in `X-HOTMART-HOTTOK`, compared in constant time. There is no
/// signature over the body and no timestamp, so deliveries from this scheme are low-trust.
public struct HotmartTokenVerifier: WebhookVerifier {
    public static let header = "X-HOTMART-HOTTOK"

    public init() {}

    public func verify(_ request: WebhookRequest, secrets: [WebhookSecret], now: Date) throws(WebhookRefusal) -> VerifiedDelivery {
        let usable = secrets.filter { !$0.value.isEmpty }
        guard !usable.isEmpty else { throw .misconfiguredSource }
        let token = try request.require(Self.header)
        for secret in usable where ConstantTime.equal(Array(token.utf8), Array(secret.value.utf8)) {
            return VerifiedDelivery(secretID: secret.id, signedAt: nil, messageID: nil)
        }
        throw .badSignature
    }
}

/// Comparisons whose time does not depend on where the inputs differ.
public enum ConstantTime {
    /// True when `a` and `b` are equal. Compares HMACs of both under a random key, so neither the
    /// position of the first difference nor the lengths leak through timing.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let key = SymmetricKey(size: .bits256)
        let macA = HMAC<SHA256>.authenticationCode(for: a, using: key)
        return HMAC<SHA256>.isValidAuthenticationCode(macA, authenticating: b, using: key)
    }
}
