import Foundation
import Hummingbird
import Kafka
import Logging
import PostgresNIO
import ServiceLifecycle
import Storage

/// One consumer group of a service: the topics it reads and the handler that applies its events
/// inside the inbox transaction.
public struct ConsumerDefinition: Sendable {
    public var topics: [String]
    /// How long the broker may hold an empty fetch: the consumer hop's latency (see
    /// `KafkaConsumerConfiguration.fetchMaxWait`). Lower it only on a latency-critical path.
    public var fetchMaxWait: Duration
    /// How much data a fetch waits for, up to `fetchMaxWait` (see
    /// `KafkaConsumerConfiguration.fetchMinBytes`). By default 64 KiB: a consumer off the
    /// latency-critical path takes fewer, larger batches under load, and at most `fetchMaxWait`
    /// later. A latency-critical consumer sets 1.
    public var fetchMinBytes: Int
    public var handler: InboxBatchHandler

    /// What a consumer off the latency-critical path waits for per fetch.
    public static let defaultFetchMinBytes = 65_536

    /// A consumer whose handler applies one event at a time.
    public init(topics: [String], fetchMaxWait: Duration = .milliseconds(500), fetchMinBytes: Int = defaultFetchMinBytes, handler: @escaping InboxHandler) {
        self.init(topics: topics, fetchMaxWait: fetchMaxWait, fetchMinBytes: fetchMinBytes, batchHandler: KafkaConsumerMessage.eachApplied(by: handler))
    }

    /// A consumer whose handler applies a batch's new events together (fewer statements per event).
    public init(topics: [String], fetchMaxWait: Duration = .milliseconds(500), fetchMinBytes: Int = defaultFetchMinBytes, batchHandler: @escaping InboxBatchHandler) {
        self.topics = topics
        self.fetchMaxWait = fetchMaxWait
        self.fetchMinBytes = fetchMinBytes
        self.handler = batchHandler
    }
}

/// What a service gives its routes and handlers.
public struct ServiceDependencies: Sendable {
    public let configuration: ServiceConfiguration
    public let client: PostgresClient
    public let schema: ServiceSchema
    public let outbox: Outbox
    public let audit: AuditLog
    public let producer: KafkaProducer
    public let logger: Logger

    public init(configuration: ServiceConfiguration, client: PostgresClient, schema: ServiceSchema, outbox: Outbox,
                audit: AuditLog, producer: KafkaProducer, logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.schema = schema
        self.outbox = outbox
        self.audit = audit
        self.producer = producer
        self.logger = logger
    }
}

/// Everything that makes one service different from another; `ServiceRunner` does the rest.
public struct ServiceDefinition: Sendable {
    /// The executable name, e.g. `ingest-gateway`; also the schema, group and DLQ name.
    public var name: String
    /// The folder of numbered SQL files shipped with the service (its `Migrations/` resource).
    public var migrationsFolder: URL?
    /// Builds the service's consumer, if it consumes (at most one group per service).
    public var consumer: (@Sendable (ServiceDependencies) -> ConsumerDefinition)?
    /// Adds the service's admin routes; `admin` is mounted at `/admin/orgs/{org}` behind
    /// bearer-token authentication, `root` is unauthenticated (e.g. public webhook endpoints).
    public var routes: @Sendable (_ root: Router<ServiceRequestContext>, _ admin: RouterGroup<ServiceRequestContext>, ServiceDependencies) -> Void
    /// Long-running work of the service's own (e.g. periodic metrics), started after the relay
    /// and stopped before it.
    public var backgroundServices: @Sendable (ServiceDependencies) -> [any Service]

    public init(
        name: String,
        migrationsFolder: URL?,
        consumer: (@Sendable (ServiceDependencies) -> ConsumerDefinition)? = nil,
        backgroundServices: @escaping @Sendable (ServiceDependencies) -> [any Service] = { _ in [] },
        routes: @escaping @Sendable (Router<ServiceRequestContext>, RouterGroup<ServiceRequestContext>, ServiceDependencies) -> Void = { _, _, _ in }
    ) {
        self.name = name
        self.migrationsFolder = migrationsFolder
        self.consumer = consumer
        self.backgroundServices = backgroundServices
        self.routes = routes
    }
}
