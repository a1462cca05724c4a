import Foundation
import Storage

/// A configuration problem found at start-up. Every case names the variable to fix.
public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case missing(variable: String)
    case invalid(variable: String, reason: String)
    case insecureInProduction(variable: String)

    public var description: String {
        switch self {
        case .missing(let variable): "\(variable) is required but not set"
        case .invalid(let variable, let reason): "\(variable) is invalid: \(reason)"
        case .insecureInProduction(let variable): "\(variable) holds a placeholder or default secret, which TALLY_ENV=prod refuses"
        }
    }
}

/// Where the process runs; `prod` refuses development secrets.
public enum DeploymentEnvironment: String, Sendable {
    case local, test, prod
}

/// Reads variables from a dictionary (the process environment by default), so tests can pass
/// their own.
public struct EnvironmentReader: Sendable {
    public let values: [String: String]
    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) { self.values = values }

    public func string(_ name: String, default fallback: String? = nil) throws(ConfigurationError) -> String {
        if let value = values[name], !value.isEmpty { return value }
        if let fallback { return fallback }
        throw .missing(variable: name)
    }

    public func optional(_ name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    public func integer(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = optional(name) else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw .invalid(variable: name, reason: "'\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }
}

/// Everything a service process needs from its environment, validated before anything starts.
public struct ServiceConfiguration: Sendable {
    /// Development-only values that production must never run with.
    static let placeholderSecrets: Set<String> = ["", "changeme", "change-me", "secret", "dev", "development", developmentAdminTokenSecret]

    /// The admin-token key local and test stacks use when `TALLY_ADMIN_TOKEN_SECRET` is unset.
    /// Production refuses it.
    public static let developmentAdminTokenSecret = "tally-dev-admin-secret"

    public var serviceName: String
    public var environment: DeploymentEnvironment
    public var httpHost: String
    public var httpPort: Int
    public var kafkaBrokers: [String]
    /// The service's own role.
    public var database: DatabaseConfiguration
    /// An administrator connection used to create the service's role and schema (local and
    /// test stacks); production provisions roles out of band and leaves this unset.
    public var databaseAdmin: DatabaseConfiguration?
    /// The HMAC key that signs admin bearer tokens.
    public var adminTokenSecret: String
    public var logLevel: String
    /// How long published outbox rows are kept before the relay deletes them
    /// (`TALLY_OUTBOX_RETENTION_HOURS`, 1 to 87,600; 168 by default).
    public var outboxRetention: Duration
    /// How long a consumer off the latency-critical path lets the broker hold a fetch that has
    /// nothing new (`TALLY_CONSUMER_FETCH_WAIT_MS`, 100 to 30,000; 2,000 by default). Under load
    /// a fetch finds data at once, so this sets only the idle cost and the delay of the first
    /// event after a quiet spell: Apache Kafka answers a waiting fetch as soon as data arrives,
    /// but the local broker (Tansu) re-reads every partition of the request at 0, ½, ¾, … of the
    /// wait, so there the first event waits up to half of it, and each re-read costs 1–3 ms of
    /// the broker's CPU (at librdkafka's 500 ms the consumers of an idle stack kept it at 5% of a
    /// core).
    public var consumerFetchWait: Duration

    public init(serviceName: String, environment reader: EnvironmentReader = EnvironmentReader()) throws(ConfigurationError) {
        self.serviceName = serviceName
        let envName = try reader.string("TALLY_ENV", default: "local")
        guard let environment = DeploymentEnvironment(rawValue: envName) else {
            throw .invalid(variable: "TALLY_ENV", reason: "'\(envName)' is not one of local, test, prod")
        }
        self.environment = environment
        self.httpHost = try reader.string("TALLY_HTTP_HOST", default: "127.0.0.1")
        self.httpPort = try reader.integer("TALLY_HTTP_PORT", default: 8080, range: 1...65535)
        self.kafkaBrokers = try reader.string("TALLY_KAFKA_BROKERS").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        guard kafkaBrokers.allSatisfy({ $0.contains(":") }) else {
            throw .invalid(variable: "TALLY_KAFKA_BROKERS", reason: "expected host:port[,host:port...]")
        }
        let databaseURL = try reader.string("TALLY_DATABASE_URL")
        guard let database = DatabaseConfiguration(url: databaseURL) else {
            throw .invalid(variable: "TALLY_DATABASE_URL", reason: "expected postgres://user:password@host:port/database")
        }
        self.database = database
        if let adminURL = reader.optional("TALLY_DATABASE_ADMIN_URL") {
            guard let admin = DatabaseConfiguration(url: adminURL) else {
                throw .invalid(variable: "TALLY_DATABASE_ADMIN_URL", reason: "expected postgres://user:password@host:port/database")
            }
            self.databaseAdmin = admin
        }
        self.adminTokenSecret = try reader.string("TALLY_ADMIN_TOKEN_SECRET", default: environment == .prod ? nil : Self.developmentAdminTokenSecret)
        self.logLevel = try reader.string("TALLY_LOG_LEVEL", default: "info")
        self.outboxRetention = .seconds(3600 * (try reader.integer("TALLY_OUTBOX_RETENTION_HOURS", default: 168, range: 1...87_600)))
        self.consumerFetchWait = .milliseconds(try reader.integer("TALLY_CONSUMER_FETCH_WAIT_MS", default: 2000, range: 100...30_000))

        if environment == .prod {
            if Self.placeholderSecrets.contains(adminTokenSecret.lowercased()) || adminTokenSecret.utf8.count < 32 {
                throw .insecureInProduction(variable: "TALLY_ADMIN_TOKEN_SECRET")
            }
            if let password = database.password, Self.placeholderSecrets.contains(password.lowercased()) || password == database.username {
                throw .insecureInProduction(variable: "TALLY_DATABASE_URL")
            }
            if database.password == nil { throw .insecureInProduction(variable: "TALLY_DATABASE_URL") }
        }
    }
}
