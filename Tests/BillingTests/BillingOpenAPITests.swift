import Contracts
import Foundation
import ServiceRuntime
import TallyTestSupport
import Testing

@testable import Billing

/// `contracts/openapi/billing.yaml` and the router agree: every route is documented and every
/// documented operation is served (no database is contacted).
@Suite("Billing OpenAPI document")
struct BillingOpenAPITests {
    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationExists() throws {
        let documented = try OpenAPIAgreement.documentedOperations(of: .billing)
        let routed = try OpenAPIAgreement.routedOperations(of: BillingService.definition())
        #expect(documented.contains("POST /admin/orgs/{org}/subscriptions/{id}/pause"))
        #expect(documented.contains("PUT /admin/orgs/{org}/dunning/policy"))
        #expect(routed == documented, "routed only: \(routed.subtracting(documented).sorted()); documented only: \(documented.subtracting(routed).sorted())")
    }
}

/// Billing's own settings, read as `ServiceRunner` reads them.
@Suite("Billing settings")
struct BillingSettingsTests {
    /// A local configuration, moved to `environment` (only that is what billing's settings read).
    static func configuration(_ environment: DeploymentEnvironment) throws -> ServiceConfiguration {
        var configuration = try ServiceConfiguration(
            serviceName: "billing",
            environment: EnvironmentReader([
                "TALLY_ENV": "local", "TALLY_KAFKA_BROKERS": "127.0.0.1:1", "TALLY_DATABASE_URL": "postgres://tally_billing:pw@127.0.0.1:1/tally",
            ]))
        configuration.environment = environment
        return configuration
    }

    static let app = "https://app.example.com"

    @Test func productionNeedsAnHTTPSPayLinkAndNeverMovesTheClock() throws {
        let prod = try Self.configuration(.prod)
        #expect(throws: ConfigurationError.missing(variable: "TALLY_BILLING_PAY_URL")) { try BillingSettings(environment: EnvironmentReader([:]), configuration: prod) }
        #expect(throws: ConfigurationError.self) {
            try BillingSettings(
                environment: EnvironmentReader(["TALLY_BILLING_PAY_URL": "http://pay.example.com/{invoice_id}", "TALLY_BILLING_APP_URL": Self.app]), configuration: prod)
        }
        #expect(throws: ConfigurationError.self) {
            try BillingSettings(
                environment: EnvironmentReader(["TALLY_BILLING_PAY_URL": "https://pay.example.com/invoices", "TALLY_BILLING_APP_URL": Self.app]), configuration: prod)
        }
        #expect(throws: ConfigurationError.self) {
            try BillingSettings(
                environment: EnvironmentReader([
                    "TALLY_BILLING_PAY_URL": "https://pay.example.com/{invoice_id}", "TALLY_BILLING_APP_URL": Self.app, "TALLY_BILLING_CLOCK_OFFSET_FILE": "/tmp/x",
                ]),
                configuration: prod)
        }
        #expect(throws: ConfigurationError.missing(variable: "TALLY_BILLING_APP_URL")) {
            try BillingSettings(environment: EnvironmentReader(["TALLY_BILLING_PAY_URL": "https://pay.example.com/{invoice_id}"]), configuration: prod)
        }
        #expect(throws: ConfigurationError.self) {
            try BillingSettings(
                environment: EnvironmentReader(["TALLY_BILLING_PAY_URL": "https://pay.example.com/{invoice_id}", "TALLY_BILLING_APP_URL": "http://app.example.com"]),
                configuration: prod)
        }
        let settings = try BillingSettings(
            environment: EnvironmentReader([
                "TALLY_BILLING_PAY_URL": "https://pay.example.com/{invoice_id}", "TALLY_BILLING_APP_URL": "https://app.example.com/", "TALLY_BILLING_PRODUCT_NAME": "Acme",
            ]), configuration: prod)
        #expect(settings.payURLTemplate == "https://pay.example.com/{invoice_id}" && settings.clockOffsetFile == nil)
        #expect(settings.product == EngagementMessages.Product(name: "Acme", appURL: "https://app.example.com"), "the trailing slash is dropped")
    }

    @Test func aLocalStackMayMoveTheClockByTheSecondsInAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("billing-clock-\(UInt64.random(in: 0...UInt64.max))").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let settings = try BillingSettings(
            environment: EnvironmentReader(["TALLY_BILLING_CLOCK_OFFSET_FILE": path, "TALLY_BILLING_JOB_INTERVAL_SECONDS": "2"]), configuration: try Self.configuration(.local))
        #expect(settings.jobInterval == .seconds(2) && settings.payURLTemplate == BillingSettings.placeholderPayURL)
        #expect(abs(settings.clock().timeIntervalSinceNow) < 5, "no file: no offset")
        try "864000\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(abs(settings.clock().timeIntervalSinceNow - 864_000) < 5, "ten days ahead")
        #expect(throws: ConfigurationError.self) {
            try BillingSettings(environment: EnvironmentReader(["TALLY_BILLING_JOB_INTERVAL_SECONDS": "0"]), configuration: try Self.configuration(.local))
        }
    }

    @Test func aPayLinkCarriesTheInvoiceIDEscaped() {
        let links = DunningMessages.Links(payURLTemplate: "https://pay.example.com/i/{invoice_id}?src=email")
        #expect(links.payURL(invoiceID: "in_1QA") == "https://pay.example.com/i/in_1QA?src=email")
        #expect(links.payURL(invoiceID: "a/b?c") == "https://pay.example.com/i/a%2Fb%3Fc?src=email")
    }
}
