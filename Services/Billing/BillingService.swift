import Contracts
import Foundation
import Logging
import PostgresNIO
import ServiceRuntime
import Storage

/// The billing service: owns the plan catalog, subscriptions and their entitlements,
/// pause/resume, dunning, the engagement cadence and usage.
///
/// - `Domain/`: plans, the subscription decider (`SubscriptionRules`), entitlements, the overdue
///   state machine (`DunningRules`) and its messages. Pure.
/// - `Handlers/`: the canonical subscription, invoice, payment and usage events, in the inbox's
///   transaction; `SubscriptionUpdates` is the one path every subscription change takes.
/// - `Commands/`: what people do (pause, resume, plan correction, catalog, policy, billing sync),
///   audited.
/// - `Jobs/`: the dunning steps and the engagement cadence.
/// - `Store/`: every SQL statement.
/// - `Routes/`: the admin API (`contracts/openapi/billing.yaml`).
@main
struct BillingService {
    /// The service's schema, consumer, jobs and routes; `main` and the tests both build it here.
    static func definition(settings: BillingSettings = BillingSettings(), now: (@Sendable () -> Date)? = nil) -> ServiceDefinition {
        let now = now ?? settings.clock
        let links = DunningMessages.Links(payURLTemplate: settings.payURLTemplate)
        return ServiceDefinition(
            service: .billing,
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { dependencies in
                ConsumerDefinition(topics: [.subscriptions, .invoices, .payments, .usage], handlers: handlers(dependencies, links: links, now: now))
            },
            backgroundServices: { dependencies in
                [jobRunner(dependencies, settings: settings, links: links, now: now)]
            },
            routes: { _, admin, dependencies in
                let queries = BillingQueries(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger)
                let catalog = CatalogCommands(queries: queries, audit: dependencies.audit, logger: dependencies.logger, now: now)
                SubscriptionRoutes(
                    queries: queries, commands: SubscriptionCommands(queries: queries, audit: dependencies.audit, logger: dependencies.logger, now: now)
                ).add(to: admin)
                CatalogRoutes(queries: queries, commands: catalog).add(to: admin)
                UsageRoutes(queries: queries).add(to: admin)
                SyncRoutes(queries: queries, sync: BillingSync(queries: queries, audit: dependencies.audit, logger: dependencies.logger, now: now)).add(to: admin)
                DunningRoutes(
                    queries: queries, commands: catalog, jobs: jobRunner(dependencies, settings: settings, links: links, now: now), audit: dependencies.audit,
                    now: now
                ).add(to: admin)
            }
        )
    }

    /// The service's scheduled jobs.
    static func jobRunner(
        _ dependencies: ServiceDependencies, settings: BillingSettings, links: DunningMessages.Links, now: @escaping @Sendable () -> Date
    )
        -> JobRunner
    {
        let dunning = DunningJob(client: dependencies.client, schema: dependencies.schema, links: links, logger: dependencies.logger)
        let engagement = EngagementJob(client: dependencies.client, schema: dependencies.schema, product: settings.product, logger: dependencies.logger)
        return JobRunner(
            jobs: [dunning.job(interval: settings.jobInterval), engagement.job(interval: settings.jobInterval)], client: dependencies.client,
            schema: dependencies.schema, logger: dependencies.logger, now: now)
    }

    /// The typed handlers of the consumed events.
    static func handlers(_ dependencies: ServiceDependencies, links: DunningMessages.Links, now: @escaping @Sendable () -> Date) -> InboxEventHandlers {
        let subscriptions = SubscriptionEventsHandler(logger: dependencies.logger, now: now)
        let invoices = InvoiceEventsHandler(links: links, logger: dependencies.logger, now: now)
        let usage = UsageEventsHandler(logger: dependencies.logger, now: now)
        let schema = dependencies.schema
        let logger = dependencies.logger
        var handlers = InboxEventHandlers()
        @Sendable func store(_ connection: PostgresConnection) -> PostgresBillingStore { PostgresBillingStore(schema: schema, connection: connection, logger: logger) }
        func onSubscription<Kind>(_ type: SubscriptionEvent<Kind>.Type, _ kind: ProviderFact.Kind) {
            handlers.on(
                type,
                each: { event, connection in
                    try await connection.setTenant(event.tenant, logger: logger)
                    return try await subscriptions.handle(event, as: kind, store: store(connection))
                })
        }
        onSubscription(SubscriptionActivated.self, .activated)
        onSubscription(SubscriptionChanged.self, .changed)
        onSubscription(SubscriptionPastDue.self, .pastDue)
        onSubscription(SubscriptionPaused.self, .paused)
        onSubscription(SubscriptionResumed.self, .resumed)
        onSubscription(SubscriptionCanceled.self, .canceled)
        handlers.on(
            InvoicePaymentFailed.self,
            each: { event, connection in
                try await connection.setTenant(event.tenant, logger: logger)
                return try await invoices.paymentFailed(event, store: store(connection))
            })
        handlers.on(
            InvoicePaid.self,
            each: { event, connection in
                try await connection.setTenant(event.tenant, logger: logger)
                return try await invoices.paid(event, store: store(connection))
            })
        handlers.on(
            PaymentCaptured.self,
            each: { event, connection in
                try await connection.setTenant(event.tenant, logger: logger)
                return try await invoices.paymentCaptured(event, store: store(connection))
            })
        handlers.on(
            UsageRecorded.self,
            each: { event, connection in
                try await connection.setTenant(event.tenant, logger: logger)
                return try await usage.handle(event, store: store(connection))
            })
        return handlers
    }

    static func main() async {
        exit(await ServiceRunner.run(.billing, settings: BillingSettings.self) { settings in definition(settings: settings) })
    }
}
