import Contracts
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Prometheus
import ServiceRuntime
import Storage

/// Builds a service the way `ServiceRunner` does, minus the broker: what Hummingbird's
/// `buildApplication` gives its tests.
public enum TestService {
    /// The configuration a service gets on the test stack, with no broker it could reach and the
    /// development admin-token key. Variables in `overrides` win (nil removes one).
    public static func configuration(for service: TallyService, overrides: [String: String?] = [:]) throws -> ServiceConfiguration {
        var environment = ProcessInfo.processInfo.environment
        environment["TALLY_KAFKA_BROKERS"] = "127.0.0.1:1"
        environment["TALLY_DATABASE_URL"] = "postgres://\(service.role):unused@127.0.0.1:1/tally"
        environment["TALLY_ENV"] = "test"
        environment["TALLY_ADMIN_TOKEN_SECRET"] = nil
        for (name, value) in overrides { environment[name] = value }
        return try ServiceConfiguration(serviceName: service.name, environment: EnvironmentReader(environment))
    }

    /// The dependencies routes and handlers get, on `client` and `schema`.
    public static func dependencies(
        for definition: ServiceDefinition, client: PostgresClient, schema: ServiceSchema,
        logger: Logger = TestDatabase.logger
    ) throws -> ServiceDependencies {
        ServiceDependencies(configuration: try configuration(for: definition.service), client: client, schema: schema, logger: logger)
    }

    /// The service's whole router (operational routes, the audit log, its own routes, the
    /// admin-token middleware) on `client` and `schema`, with no readiness checks. Drive it with
    /// `Application(router:).test(.router)`; admin tokens come from `TestService.tokens`.
    public static func router(for definition: ServiceDefinition, client: PostgresClient, schema: ServiceSchema) throws -> Router<ServiceRequestContext> {
        ServiceRouter.build(
            definition, dependencies: try dependencies(for: definition, client: client, schema: schema),
            checks: [], registry: PrometheusCollectorRegistry())
    }

    /// Issues admin tokens the test routers accept.
    public static let tokens = AdminTokens(secret: ServiceConfiguration.developmentAdminTokenSecret)

    /// The service's inbox on `client` and `schema`, with the handler its definition builds: its
    /// consumer's semantics on real PostgreSQL, fed by the test instead of a broker.
    public static func inbox(
        for definition: ServiceDefinition, client: PostgresClient, schema: ServiceSchema,
        transactionDeadline: Duration = .seconds(30)
    ) throws -> InboxTransaction {
        let dependencies = try dependencies(for: definition, client: client, schema: schema)
        guard let consumer = definition.consumer?(dependencies) else { throw StorageTestError("\(definition.name) defines no consumer") }
        return InboxTransaction(
            client: client, schema: schema, group: definition.service.consumerGroup,
            deadLetterTopic: definition.service.deadLetterTopic.name, transactionDeadline: transactionDeadline,
            logger: TestDatabase.logger, batchHandler: consumer.handler)
    }

    /// The migrations a service ships, read from its `Services/<Target>/Migrations` folder.
    public static func migrations(of service: TallyService) throws -> [Migration] {
        try Migration.load(from: TestEvents.repository.appendingPathComponent("Services/\(service.target)/Migrations"))
    }
}
