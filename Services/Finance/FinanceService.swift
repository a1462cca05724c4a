import Contracts
import Foundation
import ServiceRuntime

/// The finance service: owns the double-entry ledger, invoices with tax snapshots, payments, refunds, credit notes.
///
/// This is the service's wiring: its schema and migrations, the topics its consumer group reads,
/// and its routes. Handlers that act on events arrive with the service's business logic; until
/// then every consumed event is recorded in the inbox as `ignored`, so the group's offsets
/// still only move after a database commit.
@main
struct FinanceService {
    static func main() async {
        let definition = ServiceDefinition(
            name: "finance",
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { _ in
                ConsumerDefinition(topics: [TallyTopic.payments.name, TallyTopic.orders.name, TallyTopic.payouts.name, TallyTopic.subscriptions.name]) { _, _ in .ignored }
            }
        )
        exit(await ServiceRunner.run(definition))
    }
}
