import Contracts
import Foundation
import ServiceRuntime

/// The ingest-gateway service: owns the webhook front door: sources and secrets, the raw webhook inbox, refused-request log.
///
/// This is the service's wiring: its schema and migrations, the topics its consumer group reads,
/// and its routes. Handlers that act on events arrive with the service's business logic; until
/// then every consumed event is recorded in the inbox as `ignored`, so the group's offsets
/// still only move after a database commit.
@main
struct IngestGatewayService {
    static func main() async {
        let definition = ServiceDefinition(
            name: "ingest-gateway",
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { _ in
                ConsumerDefinition(topics: [TallyTopic.webhookOutcomes.name]) { _, _ in .ignored }
            }
        )
        exit(await ServiceRunner.run(definition))
    }
}
