import Contracts

/// How each provider's webhooks are verified. The provider type itself is `WebhookProvider`
/// (in `Contracts`), the one name for a provider everywhere in Tally.
extension WebhookProvider {
    /// The verifier for this provider's scheme with the source's tolerance window. `internal`
    /// is the product's own backend, which signs with Standard Webhooks.
    public func verifier(tolerance: Duration) -> any WebhookVerifier {
        switch self {
        case .stripe: StripeSignatureVerifier(tolerance: tolerance)
        case .paddle: PaddleSignatureVerifier(tolerance: tolerance)
        case .hotmart: HotmartTokenVerifier()
        case .standard, .internal: StandardWebhooksVerifier(tolerance: tolerance)
        }
    }

    /// Whether a verified delivery proves the body's origin. Hotmart's static token does not.
    public var provesOrigin: Bool { self != .hotmart }
}
