import Contracts
import Foundation
import ServiceRuntime

/// The normalizer service: owns raw-to-canonical lineage, per-object version fences, integration freshness.
///
/// This is the service's wiring: its schema and migrations, the topics its consumer group reads,
/// and its routes. Handlers that act on events arrive with the service's business logic; until
/// then every consumed event is recorded in the inbox as `ignored`, so the group's offsets
/// still only move after a database commit.
@main
struct NormalizerService {
    static func main() async {
        let definition = ServiceDefinition(
            name: "normalizer",
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { _ in
                ConsumerDefinition(topics: [TallyTopic.rawWebhooks.name]) { _, _ in .ignored }
            }
        )
        exit(await ServiceRunner.run(definition))
    }
}
