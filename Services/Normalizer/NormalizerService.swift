import Contracts
import Foundation
import ServiceRuntime

/// The normalizer: turns each provider's raw webhook into Tally's canonical, typed events.
///
/// - `Mappings/`: one mapping per provider, from raw payload to canonical events.
/// - `Handlers/RawWebhookHandler.swift`: applies a raw webhook event (canonical events, outcome,
///   lineage) in one transaction.
/// - `Migrations/`: lineage and per-webhook outcomes.
@main
struct NormalizerService {
    static func main() async {
        let definition = ServiceDefinition(
            name: "normalizer",
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { dependencies in
                let handler = RawWebhookHandler(schema: dependencies.schema, logger: dependencies.logger)
                return ConsumerDefinition(topics: [TallyTopic.rawWebhooks.name]) { message, connection in
                    try await handler.handle(message, on: connection)
                }
            }
        )
        exit(await ServiceRunner.run(definition))
    }
}
