import Foundation
import ServiceRuntime

/// How finance reaches providers' refund APIs, read from the environment:
///
/// - `TALLY_STRIPE_API_BASE_URL`: Stripe's API (`https://api.stripe.com` by default); `http://` is
///   refused when `TALLY_ENV=prod`.
/// - `TALLY_STRIPE_SECRET_KEY`: a Stripe secret (`sk_…`) or restricted (`rk_…`) key. Absent or empty,
///   Stripe refunds are recorded offline for later replay.
/// - `TALLY_REFUND_TIMEOUT_SECONDS`: the total deadline of one submission, 1 to 300 (15 by default).
///
/// No description, debug description or error of these settings holds the secret key.
struct RefundClientSettings: Sendable, Equatable, CustomStringConvertible {
    static let defaultStripeBaseURL = "https://api.stripe.com"
    static let defaultTimeoutSeconds = 15

    /// Stripe's API base URL, without a trailing slash.
    var stripeBaseURL: String
    /// Nil when refunds to Stripe are recorded offline.
    var stripeSecretKey: RedactedSecret?
    /// The total deadline of one submission: connecting, sending and reading the whole answer.
    var timeout: Duration

    init(stripeBaseURL: String = defaultStripeBaseURL, stripeSecretKey: String? = nil, timeout: Duration = .seconds(defaultTimeoutSeconds)) {
        self.stripeBaseURL = stripeBaseURL
        self.stripeSecretKey = stripeSecretKey.flatMap { $0.isEmpty ? nil : RedactedSecret($0) }
        self.timeout = timeout
    }

    init(environment: EnvironmentReader, configuration: ServiceConfiguration) throws(ConfigurationError) {
        let baseVariable = "TALLY_STRIPE_API_BASE_URL"
        let base = try environment.string(baseVariable, default: Self.defaultStripeBaseURL)
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil
        else {
            throw .invalid(variable: baseVariable, reason: "expected an http or https URL such as \(Self.defaultStripeBaseURL)")
        }
        if configuration.environment == .prod, scheme != "https" {
            throw .invalid(variable: baseVariable, reason: "TALLY_ENV=prod sends the secret key over https only")
        }

        let keyVariable = "TALLY_STRIPE_SECRET_KEY"
        let key = environment.optional(keyVariable)
        if let key {
            // The reason never quotes the key.
            guard key.hasPrefix("sk_") || key.hasPrefix("rk_") else {
                throw .invalid(variable: keyVariable, reason: "expected a Stripe secret key (sk_…) or restricted key (rk_…)")
            }
            guard key.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
                throw .invalid(variable: keyVariable, reason: "holds whitespace or characters outside printable ASCII")
            }
        }

        let seconds = try environment.integer("TALLY_REFUND_TIMEOUT_SECONDS", default: Self.defaultTimeoutSeconds, range: 1...300)
        self.init(stripeBaseURL: Self.trimmingTrailingSlashes(base), stripeSecretKey: key, timeout: .seconds(seconds))
    }

    /// Whether refunds to Stripe go to Stripe (a key is configured) or are recorded offline.
    var stripeIsLive: Bool { stripeSecretKey != nil }

    var description: String {
        "RefundClientSettings(stripeBaseURL: \(stripeBaseURL), stripeSecretKey: \(stripeIsLive ? "[redacted]" : "none, offline"), timeout: \(timeout))"
    }

    static func trimmingTrailingSlashes(_ url: String) -> String {
        var trimmed = Substring(url)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }
}
