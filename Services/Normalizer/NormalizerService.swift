import Contracts
import Foundation
import ServiceRuntime
import Storage

/// The normalizer: turns each provider's raw webhook into Tally's canonical, typed events.
///
/// - `Mappings/`: one mapping per provider, from raw payload to canonical events (pure).
/// - `Domain/`: what normalizing one webhook writes (`RawWebhookDecision`), freshness states.
/// - `Handlers/RawWebhookHandler.swift`: applies raw webhook events in the inbox transaction:
///   fence, decide, save.
/// - `Store/`: the normalizer schema's SQL (fences, lineage, outcomes; the reports' queries).
/// - `Routes/ReportRoutes.swift`: lineage, the daily delta report and integration freshness.
/// - `Migrations/`: lineage and per-webhook outcomes.
@main
struct NormalizerService {
    /// The service's schema, consumer and routes; `main` and the tests both build it here.
    static func definition(_ settings: NormalizerSettings) -> ServiceDefinition {
        ServiceDefinition(
            service: .normalizer,
            migrationsFolder: Bundle.module.url(forResource: "Migrations", withExtension: nil),
            consumer: { dependencies in
                let handler = RawWebhookHandler(logger: dependencies.logger)
                var handlers = InboxEventHandlers()
                handlers.on(
                    WebhookReceived.self,
                    batch: { events, connection in
                        try await handler.handle(events, store: PostgresNormalizationStore(schema: dependencies.schema, connection: connection, logger: dependencies.logger))
                    })
                // Fetches answer at once while raw events keep arriving; only an idle topic waits the
                // full fetch wait, so the wait costs latency only to the first event after a quiet
                // spell. (At 25 ms, the earlier setting, the broker spent ~4.5% of a core answering
                // empty fetches of an idle stack.)
                return ConsumerDefinition(topics: [.rawWebhooks], fetchMaxWait: .milliseconds(500), fetchMinBytes: 1, handlers: handlers)
            },
            routes: { _, admin, dependencies in
                ReportRoutes(
                    store: ReportStore(client: dependencies.client, schema: dependencies.schema, logger: dependencies.logger),
                    freshness: settings.freshness
                ).add(to: admin)
            }
        )
    }

    static func main() async {
        exit(await ServiceRunner.run(.normalizer, settings: NormalizerSettings.self, definition: definition))
    }
}

/// The normalizer's own settings, read after the shared configuration.
struct NormalizerSettings: ServiceSettings {
    /// When a provider counts as slow or stale (`TALLY_FRESHNESS_SLOW_SECONDS`, one hour by
    /// default; `TALLY_FRESHNESS_STALE_SECONDS`, one day).
    var freshness: FreshnessRule

    init(freshness: FreshnessRule = FreshnessRule(slowAfter: .seconds(3600), staleAfter: .seconds(86_400))) {
        self.freshness = freshness
    }

    init(environment: EnvironmentReader, configuration: ServiceConfiguration) throws(ConfigurationError) {
        self.init(
            freshness: FreshnessRule(
                slowAfter: .seconds(try environment.integer("TALLY_FRESHNESS_SLOW_SECONDS", default: 3600, range: 1...(30 * 86_400))),
                staleAfter: .seconds(try environment.integer("TALLY_FRESHNESS_STALE_SECONDS", default: 86_400, range: 1...(90 * 86_400)))
            ))
    }
}
