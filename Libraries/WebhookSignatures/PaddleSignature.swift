import Foundation

/// Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>…]`, HMAC-SHA256 keyed with the
/// notification-destination secret over `"<ts>:<raw body>"`.
public struct PaddleSignatureVerifier: WebhookVerifier {
    public static let header = "Paddle-Signature"
    static let scheme = TimestampedHMACScheme(
        header: header, pairSeparator: ";", timestampKey: "ts", signatureKey: "h1",
        messageSeparator: ":", ignoresUnknownKeys: false)
    public let tolerance: Duration

    public init(tolerance: Duration = .seconds(300)) { self.tolerance = tolerance }

    public func verify(_ request: WebhookRequest, secrets: [WebhookSecret], now: Date) throws(WebhookRefusal) -> VerifiedDelivery {
        try Self.scheme.verify(request, secrets: secrets, now: now, tolerance: tolerance)
    }

    /// The header value Paddle would send.
    public static func sign(body: [UInt8], secret: String, at time: Date) -> String {
        scheme.sign(body: body, secret: secret, at: time)
    }
}
