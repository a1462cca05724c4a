import AsyncHTTPClient
import Contracts
import Foundation
import Logging
import PostgresNIO
import ServiceRuntime
import Storage

/// The finance service: owns the double-entry ledger, payments, refunds, payouts and invoices.
///
/// - `Domain/`: the ledger's rules (`Postings`, `LedgerIdempotency`, `LedgerSeal`), the payment
///   decider (`PaymentBook`), payouts, refund requests (`RefundRules`), the consistency check
///   (`LedgerVerification`) and the hledger journal (`Journal`). Pure.
/// - `Handlers/`: the canonical payment, payout, order and provider-invoice events, in the inbox's transaction.
/// - `Invoices/`: issuing, settling, crediting, voiding and reconciling invoices (`InvoiceDesk`),
///   their signed links and the customer's document.
/// - `Refunds/`: the provider refund clients (Stripe over HTTP; offline without credentials).
/// - `Store/`: every SQL statement.
/// - `Routes/`: the admin API (`contracts/openapi/finance.yaml`).
@main
struct FinanceService {
    /// The service's schema, consumer and routes; `main` and the tests both build it here.
    static func definition(settings: FinanceSettings, refunds: ProviderRefundClients? = nil, now: @escaping @Sendable () -> Date = { Date() }) -> ServiceDefinition {
        ServiceDefinition(
            service: .finance,
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { dependencies in
                ConsumerDefinition(topics: [.payments, .payouts, .orders, .invoices], handlers: handlers(dependencies, now: now))
            },
            backgroundServices: { dependencies in
                [
                    FinanceMetrics(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger),
                    JobRunner(
                        jobs: [
                            InvoiceOverdueJob(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger).job(interval: settings.jobInterval),
                            MonthlyExportJob(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger).job(interval: settings.jobInterval),
                            InstallmentReminderJob(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger).job(
                                interval: settings.jobInterval),
                        ], client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger, now: now),
                ]
            },
            routes: { root, admin, dependencies in
                let queries = FinanceQueries(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger)
                InvoiceRoutes(
                    queries: queries, desk: InvoiceDesk(schema: dependencies.schema, logger: dependencies.logger, now: now), links: settings.invoiceLinks.links,
                    audit: dependencies.audit, logger: dependencies.logger, now: now
                ).add(root: root, admin: admin)
                LedgerRoutes(queries: queries, audit: dependencies.audit, now: now).add(to: admin)
                PaymentRoutes(queries: queries).add(to: admin)
                PayoutRoutes(queries: queries).add(to: admin)
                ExportRoutes(queries: queries, logger: dependencies.logger).add(to: admin)
                PlanRoutes(
                    queries: queries, desk: PlanDesk(schema: dependencies.schema, logger: dependencies.logger, now: now), audit: dependencies.audit,
                    logger: dependencies.logger, now: now
                ).add(to: admin)
                let clients = refunds ?? ProviderRefundClients(settings: settings.refunds, httpClient: HTTPClient.shared, logger: dependencies.logger)
                RefundRoutes(
                    desk: RefundDesk(queries: queries, audit: dependencies.audit, clients: clients, logger: dependencies.logger, now: now)
                ).add(to: admin)
            }
        )
    }

    /// The typed handlers of the consumed events.
    static func handlers(_ dependencies: ServiceDependencies, now: @escaping @Sendable () -> Date) -> InboxEventHandlers {
        let payments = PaymentEventsHandler(logger: dependencies.logger, now: now)
        let payouts = PayoutPaidHandler(logger: dependencies.logger, now: now)
        let schema = dependencies.schema
        let logger = dependencies.logger
        let desk = InvoiceDesk(schema: schema, logger: logger, now: now)
        let orders = OrderEventsHandler(desk: desk, logger: logger)
        let providerInvoices = ProviderInvoiceHandler(schema: schema, logger: logger, now: now)
        var handlers = InboxEventHandlers()
        func onPayment<P: EventPayload>(_ type: P.Type, _ fact: @escaping @Sendable (P) -> PaymentFact) {
            handlers.on(
                type,
                each: { event, connection in
                    try await connection.setTenant(event.tenant, logger: logger)
                    let arrival = PaymentEventsHandler.Arrival(
                        fact: fact(event.data), eventID: event.envelope.id, tenant: event.tenant, correlationID: event.envelope.correlationid,
                        envelope: event.metadata.value)
                    let outcome = try await payments.handle(arrival, store: PostgresFinanceStore(schema: schema, connection: connection, logger: logger))
                    if case .captured = arrival.fact, outcome == .applied {
                        let cause = InvoiceDesk.Cause(
                            tenant: event.tenant, eventID: event.envelope.id, eventType: P.eventType, correlationID: event.envelope.correlationid,
                            occurredAt: arrival.fact.origin.occurredAt)
                        try await desk.applyCapture(of: arrival.fact.payment, cause: cause, on: connection)
                    }
                    return outcome
                })
        }
        onPayment(PaymentIntentCreated.self, PaymentFact.intentCreated)
        onPayment(PaymentCaptured.self, PaymentFact.captured)
        onPayment(PaymentFailed.self, PaymentFact.failed)
        onPayment(PaymentRefunded.self, PaymentFact.refunded)
        onPayment(PaymentDisputed.self, PaymentFact.disputed)
        onPayment(PaymentDisputeClosed.self, PaymentFact.disputeClosed)
        handlers.on(
            PayoutPaid.self,
            each: { event, connection in
                try await connection.setTenant(event.tenant, logger: logger)
                return try await payouts.handle(event, store: PostgresFinanceStore(schema: schema, connection: connection, logger: logger))
            })
        handlers.on(
            OrderPlaced.self,
            each: { event, connection in
                try await connection.setTenant(event.tenant, logger: logger)
                return try await orders.placed(event, on: connection)
            })
        handlers.on(
            OrderCanceled.self,
            each: { event, connection in
                try await connection.setTenant(event.tenant, logger: logger)
                return try await orders.canceled(event, on: connection)
            })
        handlers.on(
            InvoicePaid.self,
            each: { event, connection in
                try await connection.setTenant(event.tenant, logger: logger)
                return try await providerInvoices.paid(event, on: connection)
            })
        handlers.on(
            InvoicePaymentFailed.self,
            each: { event, connection in
                try await connection.setTenant(event.tenant, logger: logger)
                return try await providerInvoices.failed(event, on: connection)
            })
        return handlers
    }

    static func main() async {
        exit(await ServiceRunner.run(.finance, settings: FinanceSettings.self) { settings in definition(settings: settings) })
    }
}
