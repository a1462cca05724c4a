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
///   predecessor (alert: `FinanceEventHeldTooLong`);
/// - `finance_invoice_mismatches`: invoices whose status or paid amount disagrees with the
///   payments applied to them (alert: `FinanceInvoiceMismatch`); `finance_invoices_overdue`.
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
                let (mismatches, overdue) = try await invoices()
                Gauge(label: "finance_invoice_mismatches").record(mismatches)
                Gauge(label: "finance_invoices_overdue").record(overdue)
            } catch {
                logger.warning("could not count open conflicts, held events and invoice mismatches", metadata: ["error": "\(error)"])
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

    /// Invoices whose stored status disagrees with their paid amount, or whose paid amount
    /// disagrees with the payments applied to them; and the overdue ones.
    func invoices() async throws -> (Int, Int) {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
            var result = (0, 0)
            let s = schema.name
            for try await row in try await connection.query(
                """
                SELECT (SELECT count(*)::int FROM \(unescaped: s).invoices i
                        LEFT JOIN (SELECT org_id, invoice_id, sum(amount_minor) AS applied FROM \(unescaped: s).invoice_payments GROUP BY org_id, invoice_id) p
                          ON p.org_id = i.org_id AND p.invoice_id = i.id
                        WHERE i.paid_minor <> coalesce(p.applied, 0)
                           OR (i.status = 'paid') <> (i.status <> 'void' AND i.paid_minor >= i.total_minor)),
                       (SELECT count(*)::int FROM \(unescaped: s).invoices WHERE status = 'overdue')
                """, logger: logger
            ).decode((Int, Int).self) { result = row }
            return result
        }
    }
}
