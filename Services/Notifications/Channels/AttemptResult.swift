import Foundation

/// How one attempt on a channel ended, as the retry schedule sees it.
enum AttemptOutcome: String, Sendable, Equatable, Codable {
    /// The provider took the message (SMTP 250 after DATA, HTTP 2xx).
    case delivered
    /// The channel runs offline: the message was stored, not sent (`mode=mock`).
    case deliveredOffline = "delivered_offline"
    /// Worth trying again later: SMTP 4xx, a timeout, a dropped connection, HTTP 5xx/429/408.
    case transient
    /// Trying again will not help: SMTP 5xx, HTTP 4xx other than 408/410/429, a refused address.
    case permanent
    /// The tenant's endpoint answered 410 Gone: the endpoint is disabled, the delivery is dead.
    case endpointGone = "endpoint_gone"
}

/// What one attempt did, in the words the attempt log keeps: never a message body, an address
/// or a secret.
struct AttemptResult: Sendable, Equatable {
    var outcome: AttemptOutcome
    /// Which relay or API took the attempt, e.g. `smtp:primary`, `whatsapp:cloud`, `webhook`.
    var provider: String
    /// The provider's answer code: an SMTP reply (`451`, `250`), an HTTP status, or nil when
    /// nothing answered.
    var replyCode: String?
    /// A stable, lower-case reason, e.g. `smtp_4xx`, `timeout`, `connection_dropped`,
    /// `address_refused:private`, `http_503`.
    var reason: String?
    /// A short human detail for operators (the first line of an SMTP reply, an error name);
    /// never contains the message, the recipient's address or a credential.
    var detail: String?
    /// When the provider asked us to come back (HTTP `Retry-After`).
    var retryAfter: Duration?

    init(
        outcome: AttemptOutcome, provider: String, replyCode: String? = nil, reason: String? = nil, detail: String? = nil, retryAfter: Duration? = nil
    ) {
        self.outcome = outcome
        self.provider = provider
        self.replyCode = replyCode
        self.reason = reason
        self.detail = detail
        self.retryAfter = retryAfter
    }
}
