import Contracts
import Foundation
import ServiceRuntime
import Testing

@testable import Finance

/// How finance reads its refund settings: defaults, offline without a key, and refusals that name
/// the variable without quoting the key.
@Suite("Refund client settings")
struct RefundClientSettingsTests {
    static let base = [
        "TALLY_KAFKA_BROKERS": "127.0.0.1:1", "TALLY_DATABASE_URL": "postgres://tally_finance:pw@127.0.0.1:1/tally", "TALLY_ENV": "test",
    ]

    static func settings(_ variables: [String: String]) throws(ConfigurationError) -> FinanceSettings {
        let reader = EnvironmentReader(base.merging(variables) { $1 })
        let configuration = try ServiceConfiguration(serviceName: "finance", environment: reader)
        return try FinanceSettings(environment: reader, configuration: configuration)
    }

    @Test func withoutAKeyStripeRefundsAreOfflineWithTheDefaults() throws {
        for variables in [[:], ["TALLY_STRIPE_SECRET_KEY": ""]] {
            let refunds = try Self.settings(variables).refunds
            #expect(refunds == RefundClientSettings())
            #expect(refunds.stripeBaseURL == "https://api.stripe.com")
            #expect(refunds.stripeSecretKey == nil)
            #expect(refunds.timeout == .seconds(15))
        }
    }

    @Test func theVariablesAreRead() throws {
        let refunds = try Self.settings([
            "TALLY_STRIPE_API_BASE_URL": "http://127.0.0.1:12111/", "TALLY_STRIPE_SECRET_KEY": "sk_test_abc123",
            "TALLY_REFUND_TIMEOUT_SECONDS": "3",
        ]).refunds
        #expect(refunds.stripeBaseURL == "http://127.0.0.1:12111")
        #expect(refunds.stripeSecretKey?.value == "sk_test_abc123")
        #expect(refunds.timeout == .seconds(3))
    }

    @Test(arguments: [
        ("TALLY_REFUND_TIMEOUT_SECONDS", "0"),
        ("TALLY_REFUND_TIMEOUT_SECONDS", "fifteen"),
        ("TALLY_STRIPE_API_BASE_URL", "api.stripe.com"),
        ("TALLY_STRIPE_API_BASE_URL", "ftp://api.stripe.com"),
        ("TALLY_STRIPE_SECRET_KEY", "pk_live_publishableNotSecret"),
        ("TALLY_STRIPE_SECRET_KEY", "sk_live_with a space"),
    ])
    func badValuesAreRefusedByName(variable: String, value: String) {
        do throws(ConfigurationError) {
            let settings = try Self.settings([variable: value])
            Issue.record("expected \(variable)=\(value) to be refused, got \(settings)")
        } catch {
            guard case .invalid(let named, let reason) = error else {
                Issue.record("expected .invalid, got \(error)")
                return
            }
            #expect(named == variable)
            if variable == "TALLY_STRIPE_SECRET_KEY" {
                #expect(!reason.contains(value) && !error.description.contains(value))
            }
        }
    }

    @Test func productionSendsTheKeyOverHTTPSOnly() throws {
        let production = [
            "TALLY_ENV": "prod", "TALLY_ADMIN_TOKEN_SECRET": "finance-tests-production-admin-token-key-0123456789",
            "TALLY_INVOICE_LINK_BASE_URL": "https://pay.example.com",
        ]
        let https = try Self.settings(production.merging(["TALLY_STRIPE_API_BASE_URL": "https://stripe.internal"]) { $1 })
        #expect(https.refunds.stripeBaseURL == "https://stripe.internal")
        do throws(ConfigurationError) {
            let settings = try Self.settings(production.merging(["TALLY_STRIPE_API_BASE_URL": "http://stripe.internal"]) { $1 })
            Issue.record("expected http:// to be refused in production, got \(settings)")
        } catch {
            guard case .invalid(let variable, _) = error else {
                Issue.record("expected .invalid, got \(error)")
                return
            }
            #expect(variable == "TALLY_STRIPE_API_BASE_URL")
        }
    }

    /// The run with the service's settings type refuses a bad refund setting with exit code 78,
    /// before anything starts.
    @Test func aBadRefundSettingStopsTheStartWithExitCode78() async {
        let environment = EnvironmentReader(Self.base.merging(["TALLY_REFUND_TIMEOUT_SECONDS": "9999"]) { $1 })
        let code = await ServiceRunner.run(.finance, settings: FinanceSettings.self, environment: environment) { _ in
            Issue.record("the definition must not be built with bad settings")
            return ServiceDefinition(service: .finance, migrationsFolder: nil)
        }
        #expect(code == 78)
    }

    @Test func invoiceLinksAreHTTPSInProductionAndTheirSecretIsLong() throws {
        let production = ["TALLY_ENV": "prod", "TALLY_ADMIN_TOKEN_SECRET": "finance-tests-production-admin-token-key-0123456789"]
        let local = try Self.settings([:])
        #expect(local.invoiceLinks.baseURL.hasPrefix("http://127.0.0.1:"), "a local default")
        let named = try Self.settings(production.merging(["TALLY_INVOICE_LINK_BASE_URL": "https://pay.example.com/"]) { $1 })
        #expect(named.invoiceLinks.baseURL == "https://pay.example.com")
        #expect(!String(describing: named).contains(named.invoiceLinks.secret.value), "no description holds the secret")
        let refusals: [([String: String], String)] = [
            (production, "TALLY_INVOICE_LINK_BASE_URL"),
            (production.merging(["TALLY_INVOICE_LINK_BASE_URL": "http://pay.example.com"]) { $1 }, "TALLY_INVOICE_LINK_BASE_URL"),
            (["TALLY_INVOICE_LINK_BASE_URL": "pay.example.com"], "TALLY_INVOICE_LINK_BASE_URL"),
            (["TALLY_INVOICE_LINK_SECRET": "too-short"], "TALLY_INVOICE_LINK_SECRET"),
        ]
        for (environment, variable) in refusals {
            do throws(ConfigurationError) {
                let settings = try Self.settings(environment)
                Issue.record("expected \(variable) to be refused, got \(settings)")
            } catch {
                switch error {
                case .invalid(let named, _), .missing(let named): #expect(named == variable, "\(environment)")
                default: Issue.record("expected \(variable) to be refused, got \(error)")
                }
            }
        }
    }
}
