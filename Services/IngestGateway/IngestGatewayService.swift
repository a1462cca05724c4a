import Contracts
import Foundation
import ServiceRuntime
import Storage

/// The ingest gateway: the front door for every provider's webhooks.
///
/// - `Routes/WebhookRoutes.swift`: `POST /webhooks/{sourceID}` verifies and stores webhooks.
/// - `Routes/SourceRoutes.swift`: admin routes for sources and secrets.
/// - `Store/`: the gateway schema's queries (sources, the webhook inbox, refusals).
/// - `Handlers/WebhookOutcomeHandler.swift`: applies the normalizer's outcomes to the inbox.
@main
struct IngestGatewayService {
    /// The largest webhook body accepted (`TALLY_GATEWAY_MAX_BODY_BYTES`, 1 MiB by default).
    static let defaultMaxBodySize = 1 << 20

    /// The gateway's schema, consumer and routes.
    static func definition(box: SecretBox, maxBodySize: Int, sourceRate: Int = 500) -> ServiceDefinition {
        ServiceDefinition(
            name: "ingest-gateway",
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { dependencies in
                let handler = WebhookOutcomeHandler(schema: dependencies.schema, logger: dependencies.logger)
                return ConsumerDefinition(topics: [TallyTopic.webhookOutcomes.name], batchHandler: { messages, connection in
                    try await handler.handle(messages, on: connection)
                })
            },
            backgroundServices: { dependencies in
                [InboxMetrics(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger)]
            },
            routes: { root, admin, dependencies in
                let sources = SourceStore(client: dependencies.client, schema: dependencies.schema.name, box: box, audit: dependencies.audit, logger: dependencies.logger)
                let inbox = WebhookInboxStore(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger)
                WebhookRoutes(sources: sources, inbox: inbox, maxBodySize: maxBodySize, logger: dependencies.logger,
                              rateLimiter: RateLimiter(ratePerSecond: Double(sourceRate), burst: Double(sourceRate * 2))).add(to: root)
                SourceRoutes(sources: sources).add(to: admin)
                InboxRoutes(queries: InboxQueries(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger), audit: dependencies.audit).add(to: admin)
            }
        )
    }

    static func main() async {
        let environment = EnvironmentReader()
        let box: SecretBox
        let maxBodySize: Int
        let sourceRate: Int
        do {
            let deployment = DeploymentEnvironment(rawValue: environment.optional("TALLY_ENV") ?? "local") ?? .prod
            box = try SecretBox(environment: environment, deployment: deployment)
            maxBodySize = try environment.integer("TALLY_GATEWAY_MAX_BODY_BYTES", default: defaultMaxBodySize, range: 1024...(16 << 20))
            sourceRate = try environment.integer("TALLY_GATEWAY_SOURCE_RATE", default: 500, range: 1...1_000_000)
        } catch {
            FileHandle.standardError.write(Data("ingest-gateway: configuration error: \(error)\n".utf8))
            exit(78)
        }
        exit(await ServiceRunner.run(definition(box: box, maxBodySize: maxBodySize, sourceRate: sourceRate)))
    }
}
