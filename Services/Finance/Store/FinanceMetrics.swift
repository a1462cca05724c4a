import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Storage

/// Publishes what a person must look at, across all orgs (an explicit, read-only operator
/// scope; no org id or personal data becomes a label):
/// - `finance_conflicts_open` and `finance_conflict_oldest_open_age_seconds`: refused facts
///   waiting for a person (alert: `FinanceConflictUnresolved`);
/// - `finance_events_held` and `finance_event_oldest_held_age_seconds`: events waiting for their
///   predecessor (alert: `FinanceEventHeldTooLong`).
struct FinanceMetrics: Service {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger
    var interval: Duration = .seconds(30)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let (conflicts, conflictAge, held, heldAge) = try await count()
                Gauge(label: "finance_conflicts_open").record(conflicts)
                Gauge(label: "finance_conflict_oldest_open_age_seconds").record(conflictAge)
                Gauge(label: "finance_events_held").record(held)
                Gauge(label: "finance_event_oldest_held_age_seconds").record(heldAge)
            } catch {
                logger.warning("could not count open conflicts and held events", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
        }
    }

    func count() async throws -> (Int, Double, Int, Double) {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
            var result = (0, 0.0, 0, 0.0)
            for try await row in try await connection.query(
                """
                SELECT (SELECT count(*)::int FROM \(unescaped: schema.name).ledger_conflicts WHERE resolved_at IS NULL),
                       (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 FROM \(unescaped: schema.name).ledger_conflicts WHERE resolved_at IS NULL),
                       (SELECT count(*)::int FROM \(unescaped: schema.name).held_events WHERE released_at IS NULL),
                       (SELECT coalesce(extract(epoch FROM now() - min(held_at)), 0)::float8 FROM \(unescaped: schema.name).held_events WHERE released_at IS NULL)
                """, logger: logger
            ).decode((Int, Double, Int, Double).self) { result = row }
            return result
        }
    }
}
