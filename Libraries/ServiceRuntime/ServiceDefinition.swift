import Contracts
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
    /// `KafkaConsumerConfiguration.fetchMaxWait`). `nil`, for a consumer off the latency-critical
    /// path, takes the service's `ServiceConfiguration.consumerFetchWait` (2 s by default). Set it
    /// only on a latency-critical path.
    public var fetchMaxWait: Duration?
    /// How much data a fetch waits for, up to `fetchMaxWait` (see
    /// `KafkaConsumerConfiguration.fetchMinBytes`). By default 64 KiB: a consumer off the
    /// latency-critical path takes fewer, larger batches under load, and at most `fetchMaxWait`
    /// later. A latency-critical consumer sets 1.
    public var fetchMinBytes: Int
    public var handler: InboxBatchHandler
    /// The CloudEvents types the consumer handles; empty for an untyped consumer.
    public var eventTypes: [String]

    /// What a consumer off the latency-critical path waits for per fetch.
    public static let defaultFetchMinBytes = 65_536

    /// The typed form: each registered event type is decoded and given to its handler; an event
    /// of any other type is recorded as `ignored` (with its type); a registered type that does
    /// not decode is dead-lettered with the decoding error. See `InboxEventHandlers`.
    public init(
        topics: [TallyTopic], fetchMaxWait: Duration? = nil, fetchMinBytes: Int = defaultFetchMinBytes,
        handlers: InboxEventHandlers
    ) {
        self.init(topics: topics.map(\.name), fetchMaxWait: fetchMaxWait, fetchMinBytes: fetchMinBytes, batchHandler: handlers.batchHandler)
        self.eventTypes = handlers.eventTypes
    }

    /// A consumer whose handler applies one raw message at a time.
    public init(topics: [String], fetchMaxWait: Duration? = nil, fetchMinBytes: Int = defaultFetchMinBytes, handler: @escaping InboxHandler) {
        self.init(topics: topics, fetchMaxWait: fetchMaxWait, fetchMinBytes: fetchMinBytes, batchHandler: KafkaConsumerMessage.eachApplied(by: handler))
    }

    /// A consumer whose handler applies a batch's new raw messages together.
    public init(topics: [String], fetchMaxWait: Duration? = nil, fetchMinBytes: Int = defaultFetchMinBytes, batchHandler: @escaping InboxBatchHandler) {
        self.topics = topics
        self.fetchMaxWait = fetchMaxWait
        self.fetchMinBytes = fetchMinBytes
        self.handler = batchHandler
        self.eventTypes = []
    }
}

/// What a service gives its routes and handlers.
public struct ServiceDependencies: Sendable {
    public let configuration: ServiceConfiguration
    public let client: PostgresClient
    public let schema: ServiceSchema
    public let audit: AuditLog
    public let logger: Logger

    public init(configuration: ServiceConfiguration, client: PostgresClient, schema: ServiceSchema, logger: Logger) {
        self.configuration = configuration
        self.client = client
        self.schema = schema
        self.audit = AuditLog(schema: schema)
        self.logger = logger
    }
}

/// Everything that makes one service different from another; `ServiceRunner` does the rest.
public struct ServiceDefinition: Sendable {
    /// The service in the catalog: executable, schema, consumer group and dead-letter topic.
    public var service: TallyService
    /// The executable name, e.g. `ingest-gateway`.
    public var name: String { service.name }
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
    /// Tables of the service's own that the runner publishes with a relay each, beside the
    /// outbox (the gateway's stored webhooks, which are their own raw-webhook events).
    public var feeds: @Sendable (ServiceDependencies) -> [any RelayFeed]

    public init(
        service: TallyService,
        migrationsFolder: URL?,
        consumer: (@Sendable (ServiceDependencies) -> ConsumerDefinition)? = nil,
        backgroundServices: @escaping @Sendable (ServiceDependencies) -> [any Service] = { _ in [] },
        feeds: @escaping @Sendable (ServiceDependencies) -> [any RelayFeed] = { _ in [] },
        routes: @escaping @Sendable (Router<ServiceRequestContext>, RouterGroup<ServiceRequestContext>, ServiceDependencies) -> Void = { _, _, _ in }
    ) {
        self.service = service
        self.migrationsFolder = migrationsFolder
        self.consumer = consumer
        self.backgroundServices = backgroundServices
        self.feeds = feeds
        self.routes = routes
    }
}

/// A service's own settings, read from the environment after the shared `ServiceConfiguration`
/// and refused the same way: by variable name, before anything starts (exit code 78).
public protocol ServiceSettings: Sendable {
    init(environment: EnvironmentReader, configuration: ServiceConfiguration) throws(ConfigurationError)
}

/// The settings of a service that has none of its own.
public struct NoServiceSettings: ServiceSettings {
    public init(environment: EnvironmentReader, configuration: ServiceConfiguration) {}
    public init() {}
}
