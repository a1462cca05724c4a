import Contracts
import Foundation
import ServiceRuntime
import Storage

/// The reconciliation service: owns matches, discrepancies and sync runs.
///
/// - `Domain/ExpectedOrder.swift`: what an `order.placed` means for the expected orders (pure).
/// - `Handlers/OrderPlacedHandler.swift`: load, decide, save, in the inbox transaction.
/// - `Store/ExpectedOrderStore.swift`: the schema's SQL.
/// - `Routes/ExpectedOrderRoutes.swift`: `GET /admin/orgs/{org}/orders/{orderID}`.
///
/// It handles `order.placed` so far; every other event it consumes is recorded in the inbox as
/// `ignored` with its type, so the group's offsets still only move after a database commit.
@main
struct ReconciliationService {
    /// The service's schema, consumer and routes; `main` and the tests both build it here.
    static func definition() -> ServiceDefinition {
        ServiceDefinition(
            service: .reconciliation,
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { dependencies in
                let handler = OrderPlacedHandler(logger: dependencies.logger)
                var handlers = InboxEventHandlers()
                handlers.on(
                    OrderPlaced.self,
                    each: { event, connection in
                        try await connection.setTenant(event.tenant, logger: dependencies.logger)
                        return try await handler.handle(event, orders: PostgresExpectedOrderStore(schema: dependencies.schema, connection: connection, logger: dependencies.logger))
                    })
                return ConsumerDefinition(topics: [.orders, .payments, .payouts, .ledgerPostings, .webhookOutcomes], handlers: handlers)
            },
            routes: { _, admin, dependencies in
                ExpectedOrderRoutes(queries: ExpectedOrderQueries(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger)).add(to: admin)
            }
        )
    }

    static func main() async {
        exit(await ServiceRunner.run(.reconciliation) { _ in definition() })
    }
}
