import Contracts
import Foundation
import ServiceRuntime
import Testing

/// A service's own settings are refused the way the shared configuration is: by variable name,
/// with exit code 78, before anything starts.
@Suite("Service settings")
struct SettingsTests {
    struct NeedsAThreshold: ServiceSettings {
        var threshold: Int
        init(environment: EnvironmentReader, configuration: ServiceConfiguration) throws(ConfigurationError) {
            threshold = try environment.integer("TALLY_TEST_THRESHOLD", default: 5, range: 1...10)
        }
    }

    static let base = [
        "TALLY_KAFKA_BROKERS": "127.0.0.1:1", "TALLY_DATABASE_URL": "postgres://tally_billing:pw@127.0.0.1:1/tally", "TALLY_ENV": "test",
    ]

    /// A bad service setting, and a bad shared one (refused before the service's are read).
    @Test(arguments: [("TALLY_TEST_THRESHOLD", "eleven"), ("TALLY_ENV", "staging")])
    func aBadSettingStopsTheStartWithExitCode78(variable: String, value: String) async {
        var environment = Self.base
        environment[variable] = value
        let code = await ServiceRunner.run(.billing, settings: NeedsAThreshold.self, environment: EnvironmentReader(environment)) { _ in
            Issue.record("the definition must not be built with bad settings")
            return ServiceDefinition(service: .billing, migrationsFolder: nil)
        }
        #expect(code == 78)
    }

    @Test func settingsReadTheirVariablesAfterTheSharedOnes() throws {
        var environment = Self.base
        environment["TALLY_TEST_THRESHOLD"] = "7"
        let reader = EnvironmentReader(environment)
        let configuration = try ServiceConfiguration(serviceName: "billing", environment: reader)
        #expect(try NeedsAThreshold(environment: reader, configuration: configuration).threshold == 7)
        #expect(throws: ConfigurationError.invalid(variable: "TALLY_TEST_THRESHOLD", reason: "'0' is not a whole number in 1...10")) {
            try NeedsAThreshold(environment: EnvironmentReader(Self.base.merging(["TALLY_TEST_THRESHOLD": "0"]) { $1 }), configuration: configuration)
        }
    }
}
