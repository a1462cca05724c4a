import Contracts
import Foundation
import ServiceRuntime

/// The normalizer: turns each provider's raw webhook into Tally's canonical, typed events.
///
/// - `Mappings/`: one mapping per provider, from raw payload to canonical events.
/// - `Handlers/RawWebhookHandler.swift`: applies a raw webhook event (canonical events, outcome,
///   lineage) in one transaction.
/// - `Routes/ReportRoutes.swift`: lineage, the daily delta report and integration freshness.
/// - `Migrations/`: lineage and per-webhook outcomes.
@main
struct NormalizerService {
    static func main() async {
        let environment = EnvironmentReader()
        let slowAfter: Int
        let staleAfter: Int
        do {
            slowAfter = try environment.integer("TALLY_FRESHNESS_SLOW_SECONDS", default: 3600, range: 1...(30 * 86_400))
            staleAfter = try environment.integer("TALLY_FRESHNESS_STALE_SECONDS", default: 86_400, range: 1...(90 * 86_400))
        } catch {
            FileHandle.standardError.write(Data("normalizer: configuration error: \(error)\n".utf8))
            exit(78)
        }
        let definition = ServiceDefinition(
            name: "normalizer",
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { dependencies in
                let handler = RawWebhookHandler(schema: dependencies.schema, logger: dependencies.logger)
                return ConsumerDefinition(topics: [TallyTopic.rawWebhooks.name], fetchMaxWait: .milliseconds(25), fetchMinBytes: 1, batchHandler: { messages, connection in
                    try await handler.handle(messages, on: connection)
                })
            },
            routes: { _, admin, dependencies in
                ReportRoutes(client: dependencies.client, schema: dependencies.schema,
                             slowAfter: .seconds(slowAfter), staleAfter: .seconds(staleAfter)).add(to: admin)
            }
        )
        exit(await ServiceRunner.run(definition))
    }
}
