/// Why a webhook was refused. `code` is stable: it becomes the Problem+JSON `type` and the
/// refused-request log's reason. No case says which secret was tried or expected.
public enum WebhookRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    /// A required header is absent (its name is given).
    case missingHeader(String)
    /// A header is present but cannot be parsed (its name is given).
    case malformedHeader(String)
    /// The signed timestamp is older than the tolerance allows.
    case staleTimestamp
    /// The signed timestamp is further in the future than the tolerance allows.
    case futureTimestamp
    /// No signature matched any active secret.
    case badSignature
    /// The source has no usable secret or verifier: it refuses everything (fails closed).
    case misconfiguredSource

    public var code: String {
        switch self {
        case .missingHeader: "missing-header"
        case .malformedHeader: "malformed-header"
        case .staleTimestamp: "stale-timestamp"
        case .futureTimestamp: "future-timestamp"
        case .badSignature: "bad-signature"
        case .misconfiguredSource: "misconfigured-source"
        }
    }

    public var description: String {
        switch self {
        case .missingHeader(let name): "the \(name) header is missing"
        case .malformedHeader(let name): "the \(name) header cannot be parsed"
        case .staleTimestamp: "the signed timestamp is older than the tolerance"
        case .futureTimestamp: "the signed timestamp is too far in the future"
        case .badSignature: "no signature matches this source's active secrets"
        case .misconfiguredSource: "this source cannot verify webhooks and refuses them all"
        }
    }
}
