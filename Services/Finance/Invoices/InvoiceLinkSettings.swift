import Crypto
import Foundation
import ServiceRuntime

/// Where invoice links point and what signs them, read from the environment:
///
/// - `TALLY_INVOICE_LINK_BASE_URL`: the public URL customers reach finance's `/invoices/…` at
///   (`http://127.0.0.1:<TALLY_HTTP_PORT>` by default); with `TALLY_ENV=prod` it must be set, and
///   to an `https://` URL.
/// - `TALLY_INVOICE_LINK_SECRET`: the signing secret, at least 32 characters. When absent, the key
///   is derived from the admin token secret (HMAC-SHA256 with a fixed label), so links survive
///   restarts without another secret to manage.
///
/// No description of these settings holds a secret.
struct InvoiceLinkSettings: Sendable, CustomStringConvertible {
    var baseURL: String
    var secret: RedactedSecret

    init(baseURL: String, secret: String) {
        self.baseURL = RefundClientSettings.trimmingTrailingSlashes(baseURL)
        self.secret = RedactedSecret(secret)
    }

    init(environment: EnvironmentReader, configuration: ServiceConfiguration) throws(ConfigurationError) {
        let baseVariable = "TALLY_INVOICE_LINK_BASE_URL"
        let host = configuration.httpHost == "0.0.0.0" || configuration.httpHost == "::" ? "127.0.0.1" : configuration.httpHost
        // Production names its public URL: a default pointing at this host would reach no customer.
        let base = try environment.string(baseVariable, default: configuration.environment == .prod ? nil : "http://\(host):\(configuration.httpPort)")
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), let found = url.host, !found.isEmpty,
            url.query == nil, url.fragment == nil
        else { throw .invalid(variable: baseVariable, reason: "expected an http or https URL such as https://pay.example.com") }
        if configuration.environment == .prod, scheme != "https" {
            throw .invalid(variable: baseVariable, reason: "TALLY_ENV=prod gives customers https links only")
        }
        let secretVariable = "TALLY_INVOICE_LINK_SECRET"
        let secret: String
        if let given = environment.optional(secretVariable) {
            guard given.count >= 32 else { throw .invalid(variable: secretVariable, reason: "must be at least 32 characters") }
            secret = given
        } else {
            let derived = HMAC<SHA256>.authenticationCode(for: Array("tally finance invoice links".utf8), using: SymmetricKey(data: Array(configuration.adminTokenSecret.utf8)))
            secret = derived.map { String(format: "%02x", $0) }.joined()
        }
        self.init(baseURL: base, secret: secret)
    }

    var links: InvoiceLinks { InvoiceLinks(key: Array(secret.value.utf8), baseURL: baseURL) }

    var description: String { "InvoiceLinkSettings(baseURL: \(baseURL), secret: [redacted])" }
}
