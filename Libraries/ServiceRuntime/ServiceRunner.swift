import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Kafka
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle
import Storage

/// Runs a service process from start to clean stop.
///
/// Start order: configuration (refusing bad values by variable name) → logging and metrics →
/// PostgreSQL client → role and schema provisioning (when an admin URL is given) → migrations →
/// Kafka producer → outbox relay → inbox consumer → HTTP. SIGTERM or SIGINT stops them in the
/// reverse order: HTTP stops taking requests, the consumer finishes its batch and leaves the
/// group, the relay finishes its batch, the producer flushes, and the database client closes last.
public enum ServiceRunner {
    /// Reads the shared configuration and then `Settings` from the environment, builds the
    /// service's definition from them and runs it; returns the process exit code (0 after a
    /// clean stop, 78 for a configuration error, naming the variable, 1 for a start-up failure).
    public static func run<Settings: ServiceSettings>(
        _ service: TallyService, settings: Settings.Type, environment: EnvironmentReader = EnvironmentReader(),
        definition: @Sendable (Settings) -> ServiceDefinition
    ) async -> Int32 {
        let configuration: ServiceConfiguration
        let parsed: Settings
        do throws(ConfigurationError) {
            configuration = try ServiceConfiguration(serviceName: service.name, environment: environment)
            parsed = try Settings(environment: environment, configuration: configuration)
        } catch {
            FileHandle.standardError.write(Data("\(service.name): configuration error: \(error)\n".utf8))
            return 78
        }
        return await run(definition(parsed), configuration: configuration)
    }

    /// Runs a service without settings of its own.
    public static func run(
        _ service: TallyService, environment: EnvironmentReader = EnvironmentReader(),
        definition: @Sendable (NoServiceSettings) -> ServiceDefinition
    ) async -> Int32 {
        await run(service, settings: NoServiceSettings.self, environment: environment, definition: definition)
    }

    static func run(_ definition: ServiceDefinition, configuration: ServiceConfiguration) async -> Int32 {
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var logger = Logger(label: definition.name)
        logger[metadataKey: "service"] = "\(definition.name)"
        logger.info(
            "starting",
            metadata: [
                "librdkafka": "\(KafkaLibrary.version)", "environment": "\(configuration.environment.rawValue)",
                "http_port": "\(configuration.httpPort)",
            ])
        if !KafkaLibrary.isSupportedVersion {
            logger.warning("librdkafka is older than 2.16; run `make bootstrap` so binaries load the bundled 2.16")
        }
        do {
            try await runServices(definition, configuration: configuration, registry: registry, logger: logger)
            logger.info("stopped cleanly")
            return 0
        } catch {
            logger.critical("stopped on error", metadata: ["error": "\(String(reflecting: error))"])
            return 1
        }
    }

    static func runServices(_ definition: ServiceDefinition, configuration: ServiceConfiguration, registry: PrometheusCollectorRegistry, logger: Logger) async throws {
        let schema = try ServiceSchema(service: definition.name)
        if let admin = configuration.databaseAdmin {
            let adminClient = PostgresClient(configuration: admin.clientConfiguration, backgroundLogger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await adminClient.run() }
                try await schema.provision(using: adminClient, password: configuration.database.password ?? "", logger: logger)
                group.cancelAll()
            }
        }
        let client = PostgresClient(configuration: configuration.database.clientConfiguration, backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The database client runs first and stops last.
            group.addTask { await client.run() }
            let migrations = try definition.migrationsFolder.map { try Migration.load(from: $0) } ?? []
            let runner = MigrationRunner(schema: schema, serviceMigrations: migrations)
            let applied = try await runner.migrate(client, logger: logger)
            logger.info("migrations at head", metadata: ["schema": "\(schema.name)", "head": "\(runner.head)", "applied_now": "\(applied)"])

            let kafkaClient = KafkaClientConfiguration(bootstrapServers: configuration.kafkaBrokers, clientID: definition.name)
            let producer = try KafkaProducer(configuration: .init(client: kafkaClient, deliveryTimeout: .seconds(30)), logger: logger)
            let admin = try KafkaAdmin(configuration: kafkaClient, logger: logger, requestTimeout: .seconds(2))
            let dependencies = ServiceDependencies(configuration: configuration, client: client, schema: schema, logger: logger)
            let relay = OutboxRelay(client: client, schema: schema, producer: producer, logger: logger, retention: configuration.outboxRetention)
            let consumer: InboxConsumer? = definition.consumer.map { make in
                let consumerDefinition = make(dependencies)
                let inbox = InboxTransaction(
                    client: client, schema: schema, group: definition.service.consumerGroup,
                    deadLetterTopic: definition.service.deadLetterTopic.name, logger: logger,
                    batchHandler: consumerDefinition.handler)
                return InboxConsumer(
                    configuration: KafkaConsumerConfiguration(
                        client: kafkaClient, groupID: definition.service.consumerGroup, topics: consumerDefinition.topics,
                        sessionTimeout: .seconds(6), heartbeatInterval: .seconds(2),
                        fetchMaxWait: consumerDefinition.fetchMaxWait ?? configuration.consumerFetchWait, fetchMinBytes: consumerDefinition.fetchMinBytes),
                    inbox: inbox, logger: logger
                )
            }

            let checks = [
                ReadinessCheck(name: "database") { try await client.query("SELECT 1", logger: logger) },
                ReadinessCheck(name: "migrations") {
                    let current = try await runner.currentVersion(client, logger: logger)
                    guard current == runner.head else { throw ReadinessFailure("at \(current.map(String.init) ?? "none"), head is \(runner.head)") }
                },
                ReadinessCheck(name: "broker") { _ = try await admin.topics() },
                ReadinessCheck(name: "consumer") {
                    guard let consumer else { return }
                    guard !consumer.assignment.isEmpty else { throw ReadinessFailure("no partitions assigned yet") }
                },
            ]
            let router = ServiceRouter.build(definition, dependencies: dependencies, checks: checks, registry: registry)
            let app = Application(
                router: router,
                configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: definition.name),
                logger: logger
            )

            var services: [any Service] = [ProducerLifecycle(producer: producer, admin: admin), relay]
            for feed in definition.feeds(dependencies) {
                services.append(Self.relay(of: feed, client: client, producer: producer, logger: logger, retention: configuration.outboxRetention))
            }
            services += definition.backgroundServices(dependencies)
            if let consumer { services.append(consumer) }
            services.append(app)
            let serviceGroup = ServiceGroup(
                configuration: .init(
                    services: services.map { .init(service: $0) },
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger
                ))
            try await serviceGroup.run()
            group.cancelAll()
        }
    }
}

extension ServiceRunner {
    /// A relay for one of the service's own feeds, with the outbox relay's settings.
    static func relay<Feed: RelayFeed>(of feed: Feed, client: PostgresClient, producer: KafkaProducer, logger: Logger, retention: Duration) -> any Service {
        Relay(feed: feed, client: client, producer: producer, logger: logger, retention: retention)
    }
}

/// The HTTP routes of a service: operational routes, the shared audit-log route and the
/// service's own, behind correlation ids, Problem+JSON and (under `/admin/orgs/{org}`) admin auth.
public enum ServiceRouter {
    public static func build(
        _ definition: ServiceDefinition, dependencies: ServiceDependencies, checks: [ReadinessCheck], registry: PrometheusCollectorRegistry
    ) -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: CorrelationMiddleware())
        router.add(middleware: ProblemMiddleware())
        OperationalRoutes.add(to: router, checks: checks, registry: registry)
        let adminGroup = router.group("admin/orgs/:org").add(middleware: AdminAuthMiddleware(tokens: AdminTokens(secret: dependencies.configuration.adminTokenSecret)))
        AuditRoutes.add(to: adminGroup, dependencies: dependencies)
        JobRoutes.add(to: router, dependencies: dependencies)
        definition.routes(router, adminGroup, dependencies)
        return router
    }
}

/// A readiness check's reason for failing.
public struct ReadinessFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Keeps the producer (and the admin client used for readiness) open until shutdown, then
/// flushes and releases them; listed first in the service group so it stops last.
struct ProducerLifecycle: Service {
    let producer: KafkaProducer
    let admin: KafkaAdmin

    func run() async throws {
        try? await gracefulShutdown()
        await producer.shutdown(flushTimeout: .seconds(10))
        await admin.close()
    }
}

/// Gives every request a correlation id (the caller's `X-Correlation-ID`, or a new one), puts it
/// in the request's log metadata and echoes it in the response.
struct CorrelationMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext

    func handle(_ request: Request, context: ServiceRequestContext, next: (Request, ServiceRequestContext) async throws -> Response) async throws -> Response {
        let header = HTTPField.Name("X-Correlation-ID")!
        let correlationID = request.headers[header].flatMap { $0.isEmpty || $0.count > 128 ? nil : $0 } ?? UUID().uuidString.lowercased()
        var context = context
        context.logger[metadataKey: "correlation_id"] = "\(correlationID)"
        var response = try await next(request, context)
        response.headers[header] = correlationID
        return response
    }
}
