import Contracts
import Foundation
import ServiceRuntime
import Storage

/// The ingest gateway: the front door for every provider's webhooks.
///
/// - `Routes/WebhookRoutes.swift`: `POST /webhooks/{sourceID}` verifies and stores webhooks.
/// - `Routes/SourceRoutes.swift`: admin routes for sources and secrets.
/// - `Store/`: the gateway schema's queries (sources, the webhook inbox, refusals).
/// - `Store/RawWebhookFeed.swift`: publishes each stored webhook as its raw-webhook event,
///   built from the stored row itself.
/// - `Handlers/WebhookOutcomeHandler.swift`: applies the normalizer's outcomes to the inbox.
@main
struct IngestGatewayService {
    /// The service's schema, consumer and routes; `main` and the tests both build it here.
    static func definition(_ settings: GatewaySettings) -> ServiceDefinition {
        ServiceDefinition(
            service: .ingestGateway,
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { dependencies in
                let handler = WebhookOutcomeHandler(logger: dependencies.logger)
                var handlers = InboxEventHandlers()
                handlers.on(
                    WebhookOutcome.self,
                    batch: { events, connection in
                        try await handler.handle(events, store: PostgresWebhookOutcomeStore(schema: dependencies.schema, connection: connection, logger: dependencies.logger))
                    })
                return ConsumerDefinition(topics: [.webhookOutcomes], handlers: handlers)
            },
            backgroundServices: { dependencies in
                [InboxMetrics(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger)]
            },
            feeds: { dependencies in
                [RawWebhookFeed(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger)]
            },
            routes: { root, admin, dependencies in
                let sources = SourceStore(client: dependencies.client, schema: dependencies.schema.name, box: settings.box, audit: dependencies.audit, logger: dependencies.logger)
                let inbox = WebhookInboxStore(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger)
                WebhookRoutes(
                    sources: sources, inbox: inbox, maxBodySize: settings.maxBodySize, logger: dependencies.logger,
                    rateLimiter: RateLimiter(ratePerSecond: Double(settings.sourceRate), burst: Double(settings.sourceRate * 2))
                ).add(to: root)
                SourceRoutes(sources: sources).add(to: admin)
                InboxRoutes(queries: InboxQueries(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger), audit: dependencies.audit).add(to: admin)
            }
        )
    }

    static func main() async {
        exit(await ServiceRunner.run(.ingestGateway, settings: GatewaySettings.self, definition: definition))
    }
}

/// The gateway's own settings, read after the shared configuration.
struct GatewaySettings: ServiceSettings {
    /// The largest webhook body accepted (`TALLY_GATEWAY_MAX_BODY_BYTES`, 1 MiB by default).
    static let defaultMaxBodySize = 1 << 20

    /// Seals source secrets at rest (`TALLY_SECRETS_KEY`).
    var box: SecretBox
    var maxBodySize: Int
    /// Webhooks per second each source may send (`TALLY_GATEWAY_SOURCE_RATE`), burst twice that.
    var sourceRate: Int

    init(box: SecretBox, maxBodySize: Int = defaultMaxBodySize, sourceRate: Int = 500) {
        self.box = box
        self.maxBodySize = maxBodySize
        self.sourceRate = sourceRate
    }

    init(environment: EnvironmentReader, configuration: ServiceConfiguration) throws(ConfigurationError) {
        self.init(
            box: try SecretBox(environment: environment, deployment: configuration.environment),
            maxBodySize: try environment.integer("TALLY_GATEWAY_MAX_BODY_BYTES", default: Self.defaultMaxBodySize, range: 1024...(16 << 20)),
            sourceRate: try environment.integer("TALLY_GATEWAY_SOURCE_RATE", default: 500, range: 1...1_000_000)
        )
    }
}
