import Foundation
import Kafka
import Logging
import PostgresNIO
import Storage

/// The real PostgreSQL (and broker) the test command starts, shared by the integration suites. With `TALLY_REQUIRE_INTEGRATION=1`
/// a missing database fails the tests instead of skipping them.
public enum TestDatabase {
    public static let environment = ProcessInfo.processInfo.environment
    public static let adminURL = environment["TALLY_TEST_DATABASE_URL"]
    public static let brokers = environment["TALLY_TEST_KAFKA_BROKERS"]
    public static var enabled: Bool { adminURL != nil || environment["TALLY_REQUIRE_INTEGRATION"] == "1" }

    public static let logger: Logger = {
        var logger = Logger(label: "storage-tests")
        logger.logLevel = .error
        return logger
    }()

    public static func adminConfiguration() throws -> DatabaseConfiguration {
        guard let adminURL, let configuration = DatabaseConfiguration(url: adminURL) else {
            throw StorageTestError("TALLY_TEST_DATABASE_URL is not set; run the tests with `make test`")
        }
        return configuration
    }

    /// A schema name no other test uses.
    public static func uniqueService(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs `body` with a running client for `configuration`.
    public static func withClient<R: Sendable>(_ configuration: DatabaseConfiguration, _ body: @Sendable (PostgresClient) async throws -> R) async throws -> R {
        let client = PostgresClient(configuration: configuration.clientConfiguration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: R?.self) { group in
            group.addTask {
                await client.run(); return nil
            }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// Provisions `service`'s role and schema, migrates it with `migrations`, and runs `body`
    /// with a client connected as the service's own role.
    public static func withService<R: Sendable>(
        _ service: String, migrations: [Migration] = [],
        _ body: @Sendable (PostgresClient, ServiceSchema) async throws -> R
    ) async throws -> R {
        let admin = try adminConfiguration()
        let schema = try ServiceSchema(service: service)
        let password = "pw-\(service)"
        try await withClient(admin) { client in
            try await schema.provision(using: client, password: password, logger: logger)
        }
        return try await withClient(admin.connecting(as: schema.role, password: password)) { client in
            try await MigrationRunner(schema: schema, serviceMigrations: migrations).migrate(client, logger: logger)
            return try await body(client, schema)
        }
    }
}

public struct StorageTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension PostgresClient {
    /// The rows of a single-column text query.
    public func strings(_ query: PostgresQuery, logger: Logger = TestDatabase.logger) async throws -> [String] {
        var values: [String] = []
        for try await value in try await self.query(query, logger: logger).decode(String.self) { values.append(value) }
        return values
    }
}
