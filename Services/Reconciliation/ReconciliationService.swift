import Contracts
import Foundation
import ServiceRuntime
import Storage

/// The reconciliation service: owns matches, discrepancies and sync runs.
///
/// This is the service's wiring: its schema and migrations, the topics its consumer group reads,
/// and its routes. It registers no event types yet: until its handlers arrive with its business
/// logic, every consumed event is recorded in the inbox as `ignored` with its type, so the
/// group's offsets still only move after a database commit.
@main
struct ReconciliationService {
    /// The service's schema, consumer and routes; `main` and the tests both build it here.
    static func definition() -> ServiceDefinition {
        ServiceDefinition(
            service: .reconciliation,
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { _ in
                ConsumerDefinition(topics: [.orders, .payments, .payouts, .ledgerPostings, .webhookOutcomes], handlers: InboxEventHandlers())
            }
        )
    }

    static func main() async {
        exit(await ServiceRunner.run(.reconciliation) { _ in definition() })
    }
}
