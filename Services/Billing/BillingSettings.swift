import Foundation
import ServiceRuntime

/// The billing service's own settings, read after the shared configuration; a bad value stops
/// the start with exit code 78 and the variable's name.
///
/// - `TALLY_BILLING_PAY_URL`: where a dunning message sends the customer to pay, with
///   `{invoice_id}` where the invoice's id goes. Required with `TALLY_ENV=prod` (https only);
///   local and test stacks use a placeholder.
/// - `TALLY_BILLING_PRODUCT_NAME` (`Tally` by default) and `TALLY_BILLING_APP_URL`: what the
///   engagement messages call the product and where their links point (paths under it, e.g.
///   `/getting-started`). The app URL is required with `TALLY_ENV=prod` (https only).
/// - `TALLY_BILLING_JOB_INTERVAL_SECONDS`: the pause between job runs, 1 to 3600 (60 by default).
/// - `TALLY_BILLING_CLOCK_OFFSET_FILE`: local and test stacks only (`TALLY_ENV=prod` refuses it): a
///   file holding a number of seconds added to the clock, so an acceptance test can move billing
///   days ahead without waiting. A missing or empty file means no offset.
struct BillingSettings: ServiceSettings, Sendable, Equatable {
    static let placeholderPayURL = "http://localhost:8080/pay/{invoice_id}"
    static let placeholderAppURL = "http://localhost:3000"

    var payURLTemplate: String
    var product: EngagementMessages.Product
    var jobInterval: Duration
    var clockOffsetFile: String?

    init(
        payURLTemplate: String = placeholderPayURL, product: EngagementMessages.Product = .init(name: "Tally", appURL: placeholderAppURL),
        jobInterval: Duration = .seconds(60), clockOffsetFile: String? = nil
    ) {
        self.payURLTemplate = payURLTemplate
        self.product = product
        self.jobInterval = jobInterval
        self.clockOffsetFile = clockOffsetFile
    }

    init(environment: EnvironmentReader, configuration: ServiceConfiguration) throws(ConfigurationError) {
        let payVariable = "TALLY_BILLING_PAY_URL"
        let pay: String
        if configuration.environment == .prod {
            guard let configured = environment.optional(payVariable) else { throw .missing(variable: payVariable) }
            pay = configured
        } else {
            pay = environment.optional(payVariable) ?? Self.placeholderPayURL
        }
        guard pay.contains("{invoice_id}") else { throw .invalid(variable: payVariable, reason: "must hold {invoice_id} where the invoice's id goes") }
        guard let url = URL(string: pay.replacingOccurrences(of: "{invoice_id}", with: "x")), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            url.host?.isEmpty == false
        else {
            throw .invalid(variable: payVariable, reason: "expected an http or https URL such as https://billing.example.com/pay/{invoice_id}")
        }
        if configuration.environment == .prod, scheme != "https" { throw .invalid(variable: payVariable, reason: "TALLY_ENV=prod links customers over https only") }
        let appVariable = "TALLY_BILLING_APP_URL"
        let app: String
        if configuration.environment == .prod {
            guard let configured = environment.optional(appVariable) else { throw .missing(variable: appVariable) }
            app = configured
        } else {
            app = environment.optional(appVariable) ?? Self.placeholderAppURL
        }
        guard let appURL = URL(string: app), let appScheme = appURL.scheme?.lowercased(), ["http", "https"].contains(appScheme), appURL.host?.isEmpty == false,
            appURL.query == nil, appURL.fragment == nil
        else {
            throw .invalid(variable: appVariable, reason: "expected an http or https URL such as https://app.example.com")
        }
        if configuration.environment == .prod, appScheme != "https" { throw .invalid(variable: appVariable, reason: "TALLY_ENV=prod links customers over https only") }
        let name = environment.optional("TALLY_BILLING_PRODUCT_NAME") ?? "Tally"
        guard (1...100).contains(name.count), !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid(variable: "TALLY_BILLING_PRODUCT_NAME", reason: "must be 1 to 100 characters without control characters")
        }
        var base = Substring(app)
        while base.hasSuffix("/") { base = base.dropLast() }
        let seconds = try environment.integer("TALLY_BILLING_JOB_INTERVAL_SECONDS", default: 60, range: 1...3600)
        let clockVariable = "TALLY_BILLING_CLOCK_OFFSET_FILE"
        let clock = environment.optional(clockVariable)
        if clock != nil, configuration.environment == .prod {
            throw .invalid(variable: clockVariable, reason: "moves billing's clock, which TALLY_ENV=prod never allows")
        }
        self.init(
            payURLTemplate: pay, product: EngagementMessages.Product(name: name, appURL: String(base)), jobInterval: .seconds(seconds), clockOffsetFile: clock)
    }

    /// The service's clock: the system's, plus the offset file's seconds where one is configured.
    var clock: @Sendable () -> Date {
        guard let path = clockOffsetFile else { return { Date() } }
        return {
            let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            return Date().addingTimeInterval(TimeInterval(Int(text) ?? 0))
        }
    }
}
