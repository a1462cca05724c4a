import Contracts
import Foundation
import ServiceRuntime
import Storage

/// The billing service: owns plans, subscriptions, pause/resume history, dunning state, usage.
///
/// This is the service's wiring: its schema and migrations, the topics its consumer group reads,
/// and its routes. It registers no event types yet: until its handlers arrive with its business
/// logic, every consumed event is recorded in the inbox as `ignored` with its type, so the
/// group's offsets still only move after a database commit.
@main
struct BillingService {
    /// The service's schema, consumer and routes; `main` and the tests both build it here.
    static func definition() -> ServiceDefinition {
        ServiceDefinition(
            service: .billing,
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { _ in ConsumerDefinition(topics: [.subscriptions, .payments], handlers: InboxEventHandlers()) }
        )
    }

    static func main() async {
        exit(await ServiceRunner.run(.billing) { _ in definition() })
    }
}
