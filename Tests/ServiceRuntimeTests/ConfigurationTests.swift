import Foundation
import ServiceRuntime
import Testing

@Suite("Service configuration")
struct ConfigurationTests {
    let valid: [String: String] = [
        "TALLY_KAFKA_BROKERS": "127.0.0.1:19092",
        "TALLY_DATABASE_URL": "postgres://tally_billing:s3cret-pass@127.0.0.1:55432/tally",
        "TALLY_HTTP_PORT": "8083",
    ]

    func configuration(_ values: [String: String]) throws(ConfigurationError) -> ServiceConfiguration {
        try ServiceConfiguration(serviceName: "billing", environment: EnvironmentReader(values))
    }

    @Test func aValidEnvironmentIsRead() throws {
        let configuration = try configuration(valid)
        #expect(configuration.httpPort == 8083)
        #expect(configuration.kafkaBrokers == ["127.0.0.1:19092"])
        #expect(configuration.database.username == "tally_billing")
        #expect(configuration.database.port == 55432)
        #expect(configuration.environment == .local)
        #expect(configuration.consumerFetchWait == .seconds(2), "the idle fetch wait's default")
    }

    @Test func theIdleFetchWaitIsReadAndBounded() throws {
        var values = valid
        values["TALLY_CONSUMER_FETCH_WAIT_MS"] = "5000"
        #expect(try configuration(values).consumerFetchWait == .seconds(5))
        values["TALLY_CONSUMER_FETCH_WAIT_MS"] = "50"
        #expect { try configuration(values) } throws: { "\($0)".contains("TALLY_CONSUMER_FETCH_WAIT_MS") }
    }

    @Test func errorsNameTheVariable() {
        var missing = valid
        missing["TALLY_DATABASE_URL"] = nil
        #expect(throws: ConfigurationError.missing(variable: "TALLY_DATABASE_URL")) { try configuration(missing) }

        var badPort = valid
        badPort["TALLY_HTTP_PORT"] = "eighty"
        #expect { try configuration(badPort) } throws: { "\($0)".contains("TALLY_HTTP_PORT") }

        var badURL = valid
        badURL["TALLY_DATABASE_URL"] = "mysql://x"
        #expect { try configuration(badURL) } throws: { "\($0)".contains("TALLY_DATABASE_URL") }

        var badEnv = valid
        badEnv["TALLY_ENV"] = "staging"
        #expect { try configuration(badEnv) } throws: { "\($0)".contains("TALLY_ENV") }
    }

    @Test func productionRefusesPlaceholderSecrets() throws {
        var prod = valid
        prod["TALLY_ENV"] = "prod"
        #expect(throws: ConfigurationError.missing(variable: "TALLY_ADMIN_TOKEN_SECRET")) { try configuration(prod) }

        prod["TALLY_ADMIN_TOKEN_SECRET"] = "changeme"
        #expect(throws: ConfigurationError.insecureInProduction(variable: "TALLY_ADMIN_TOKEN_SECRET")) { try configuration(prod) }

        prod["TALLY_ADMIN_TOKEN_SECRET"] = "k3Jq8vN2pX7wR4tY9mB6cF1hL5sD0gZa"
        prod["TALLY_DATABASE_URL"] = "postgres://tally_billing:changeme@db:5432/tally"
        #expect(throws: ConfigurationError.insecureInProduction(variable: "TALLY_DATABASE_URL")) { try configuration(prod) }

        prod["TALLY_DATABASE_URL"] = "postgres://tally_billing:Vq9-long-random-password@db:5432/tally"
        #expect(try configuration(prod).environment == .prod)
    }
}
