import Foundation

/// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, HMAC-SHA256 keyed with the whole
/// `whsec_…` secret over `"<t>.<raw body>"`. Other schemes in the header (`v0`) are ignored.
public struct StripeSignatureVerifier: WebhookVerifier {
    public static let header = "Stripe-Signature"
    static let scheme = TimestampedHMACScheme(
        header: header, pairSeparator: ",", timestampKey: "t", signatureKey: "v1",
        messageSeparator: ".", ignoresUnknownKeys: true)
    public let tolerance: Duration

    public init(tolerance: Duration = .seconds(300)) { self.tolerance = tolerance }

    public func verify(_ request: WebhookRequest, secrets: [WebhookSecret], now: Date) throws(WebhookRefusal) -> VerifiedDelivery {
        try Self.scheme.verify(request, secrets: secrets, now: now, tolerance: tolerance)
    }

    /// The header value Stripe would send: for tests and for replaying stored webhooks to
    /// another environment.
    public static func sign(body: [UInt8], secret: String, at time: Date) -> String {
        scheme.sign(body: body, secret: secret, at: time)
    }
}
