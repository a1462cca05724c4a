import Contracts
import Foundation
import ServiceRuntime

/// The privacy service: owns privacy requests, review decisions, erasure plans, export bundles.
///
/// This is the service's wiring: its schema and migrations, the topics its consumer group reads,
/// and its routes. Handlers that act on events arrive with the service's business logic; until
/// then every consumed event is recorded in the inbox as `ignored`, so the group's offsets
/// still only move after a database commit.
@main
struct PrivacyService {
    static func main() async {
        let definition = ServiceDefinition(
            name: "privacy",
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { _ in
                ConsumerDefinition(topics: [TallyTopic.privacyResults.name]) { _, _ in .ignored }
            }
        )
        exit(await ServiceRunner.run(definition))
    }
}
