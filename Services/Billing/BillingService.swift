import Contracts
import Foundation
import ServiceRuntime

/// The billing service: owns plans, subscriptions, pause/resume history, dunning state, usage.
///
/// This is the service's wiring: its schema and migrations, the topics its consumer group reads,
/// and its routes. Handlers that act on events arrive with the service's business logic; until
/// then every consumed event is recorded in the inbox as `ignored`, so the group's offsets
/// still only move after a database commit.
@main
struct BillingService {
    static func main() async {
        let definition = ServiceDefinition(
            name: "billing",
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { _ in
                ConsumerDefinition(topics: [TallyTopic.subscriptions.name, TallyTopic.payments.name]) { _, _ in .ignored }
            }
        )
        exit(await ServiceRunner.run(definition))
    }
}
