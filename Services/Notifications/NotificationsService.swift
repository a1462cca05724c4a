import AsyncHTTPClient
import Contracts
import Foundation
import Logging
import NIOPosix
import PostgresNIO
import ServiceRuntime
import Storage

/// The notifications service: sends what other services ask for, once per dedupe key, over email
/// (SMTP), WhatsApp and signed webhooks, with retries, dead letters and replay.
///
/// - `Domain/`: the delivery lifecycle (`DeliveryLifecycle`), the retry schedule (`RetryPolicy`),
///   recipients and the per-recipient limit, the relay breaker, and the templates. Pure.
/// - `Handlers/`: `notification.requested` (creates the delivery) and `customer.upserted`
///   (contact details), in the inbox's transaction.
/// - `Jobs/`: the delivery worker: claims due deliveries in the database, sends, records.
/// - `Channels/`: SMTP on SwiftNIO, the WhatsApp Cloud API, signed webhooks with the SSRF guard.
/// - `Store/`: every SQL statement. `Routes/`: the admin API (`contracts/openapi/notifications.yaml`).
@main
struct NotificationsService {
    /// The service's schema, consumer, worker and routes; `main` and the tests both build it here.
    /// `courier` replaces the real channels (unit tests only).
    static func definition(
        settings: NotificationsSettings, courier: (any Courier)? = nil, now: @escaping @Sendable () -> Date = { Date() }
    ) throws(TemplateError) -> ServiceDefinition {
        let catalog = try TemplateCatalog.shipped()
        return ServiceDefinition(
            service: .notifications,
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { dependencies in
                ConsumerDefinition(
                    topics: [.notificationRequests, .customers], handlers: handlers(dependencies, catalog: catalog, secrets: settings.secrets, now: now))
            },
            backgroundServices: { dependencies in
                let channels = courier ?? realCourier(settings: settings, logger: dependencies.logger)
                return [
                    DeliveryWorker(
                        client: dependencies.client, schema: dependencies.schema, courier: channels, catalog: catalog, secrets: settings.secrets, settings: settings.delivery,
                        logger: dependencies.logger, now: now,
                        workerID: "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(UUID().uuidString.prefix(8))"),
                    NotificationsMetrics(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger),
                ]
            },
            routes: { _, admin, dependencies in
                let queries = NotificationQueries(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger, secrets: settings.secrets)
                DeliveryRoutes(queries: queries, audit: dependencies.audit, now: now).add(to: admin)
                TemplateRoutes(catalog: catalog).add(to: admin)
                ContactRoutes(queries: queries, audit: dependencies.audit, now: now).add(to: admin)
                let resolver = EndpointResolver(addressGuard: AddressGuard(allowLoopbackHTTP: settings.webhooks.allowLoopbackHTTP))
                EndpointRoutes(queries: queries, audit: dependencies.audit, resolver: resolver, now: now).add(to: admin)
                RequestRoutes(queries: queries, audit: dependencies.audit, handler: NotificationRequestedHandler(catalog: catalog, logger: dependencies.logger, now: now))
                    .add(to: admin)
            }
        )
    }

    static func realCourier(settings: NotificationsSettings, logger: Logger) -> ChannelCourier {
        ChannelCourier(
            email: EmailRelays(
                relays: Failover(settings.relays, threshold: settings.failoverAfter, coolDown: settings.failoverCoolDown), from: settings.from,
                client: SMTPClient(), logger: logger),
            whatsApp: Failover(
                ([settings.whatsApp] + [settings.whatsAppFallback].compactMap { $0 }).map { WhatsAppClient(settings: $0, httpClient: HTTPClient.shared, logger: logger) },
                threshold: settings.failoverAfter, coolDown: settings.failoverCoolDown),
            webhooks: WebhookSender(settings: settings.webhooks, logger: logger), logger: logger)
    }

    /// The typed handlers of the consumed events.
    static func handlers(
        _ dependencies: ServiceDependencies, catalog: TemplateCatalog, secrets: SecretBox, now: @escaping @Sendable () -> Date
    ) -> InboxEventHandlers {
        let requested = NotificationRequestedHandler(catalog: catalog, logger: dependencies.logger, now: now)
        let customers = CustomerUpsertedHandler(now: now)
        let schema = dependencies.schema
        let logger = dependencies.logger
        var handlers = InboxEventHandlers()
        handlers.on(
            NotificationRequested.self,
            each: { event, connection in
                try await connection.setTenant(event.tenant, logger: logger)
                return try await requested.handle(event, store: NotificationsStore(schema: schema, connection: connection, logger: logger, secrets: secrets))
            })
        handlers.on(
            CustomerUpserted.self,
            each: { event, connection in
                try await connection.setTenant(event.tenant, logger: logger)
                return try await customers.handle(event, store: NotificationsStore(schema: schema, connection: connection, logger: logger, secrets: secrets))
            })
        return handlers
    }

    static func main() async {
        exit(
            await ServiceRunner.run(.notifications, settings: NotificationsSettings.self) { settings in
                do {
                    return try definition(settings: settings)
                } catch {
                    // Only a broken shipped template gets here; TemplateTests rule that out.
                    preconditionFailure("the shipped templates do not build: \(error)")
                }
            })
    }
}
