import Contracts
import Foundation
import ServiceRuntime
import Storage

/// The reconciliation service: what was sold, captured, paid out and deposited, matched leg by
/// leg, with every gap a named discrepancy on the reconciliation topic.
///
/// - `Domain/`: the facts (`Facts.swift`), matching (`Matcher`: every check of connected items,
///   pure), the discrepancy rules (`DiscrepancyRules`), and the order expectation.
/// - `Matching/`: a re-check around some items (`MatchingPass`: load the neighborhood, decide,
///   save, publish), used by the handlers, statement uploads and runs alike.
/// - `Handlers/`: the consumed events, recorded as facts inside the inbox transaction.
/// - `Store/`: the schema's SQL.
/// - `Routes/`: the admin API (`contracts/openapi/reconciliation.yaml`).
@main
struct ReconciliationService {
    /// The service's schema, consumer and routes; `main` and the tests both build it here.
    static func definition(settings: ReconciliationSettings = ReconciliationSettings(), now: @escaping @Sendable () -> Date = { Date() }) -> ServiceDefinition {
        ServiceDefinition(
            service: .reconciliation,
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { dependencies in
                ConsumerDefinition(topics: [.orders, .payments, .payouts, .ledgerPostings, .webhookOutcomes], handlers: handlers(dependencies, now: now))
            },
            backgroundServices: { dependencies in
                [
                    JobRunner(
                        jobs: [ReconciliationRunJob(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger).job(interval: settings.jobInterval)],
                        client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger, now: now)
                ]
            },
            routes: { _, admin, dependencies in
                ExpectedOrderRoutes(queries: ExpectedOrderQueries(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger)).add(to: admin)
                DiscrepancyRoutes(queries: DiscrepancyQueries(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger), now: now).add(
                    to: admin)
                RunRoutes(
                    job: ReconciliationRunJob(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger), audit: dependencies.audit,
                    logger: dependencies.logger, now: now
                ).add(to: admin)
            }
        )
    }

    /// The typed handlers of the consumed events; every other event type is recorded in the
    /// inbox as `ignored` with its type.
    static func handlers(_ dependencies: ServiceDependencies, now: @escaping @Sendable () -> Date) -> InboxEventHandlers {
        let facts = FactHandlers(logger: dependencies.logger, now: now)
        let schema = dependencies.schema
        let logger = dependencies.logger
        var handlers = InboxEventHandlers()
        func on<P: EventPayload>(_ type: P.Type, _ handle: @escaping @Sendable (InboxEvent<P>, PostgresReconciliationStore) async throws -> InboxOutcome) {
            handlers.on(
                type,
                each: { event, connection in
                    try await connection.setTenant(event.tenant, logger: logger)
                    return try await handle(event, PostgresReconciliationStore(schema: schema, connection: connection, logger: logger))
                })
        }
        on(OrderPlaced.self, facts.placed)
        on(PaymentCaptured.self, facts.captured)
        on(PaymentRefunded.self, facts.refunded)
        on(PaymentDisputed.self, facts.disputed)
        on(PaymentDisputeClosed.self, facts.disputeClosed)
        on(PayoutPaid.self, facts.payout)
        on(LedgerTransactionPosted.self, facts.posted)
        return handlers
    }

    static func main() async {
        exit(await ServiceRunner.run(.reconciliation, settings: ReconciliationSettings.self) { settings in definition(settings: settings) })
    }
}
