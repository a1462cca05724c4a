import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Storage

/// Publishes the delivery queue across all orgs (read-only operator scope; no org id or personal
/// data becomes a label), every 15 s:
/// - `notifications_deliveries{status}`: deliveries per status that are not final, and the dead;
/// - `notifications_oldest_due_age_seconds`: how late the oldest due delivery is (alert:
///   `NotificationsQueueBehind`);
/// - `notifications_dead_deliveries`: dead deliveries waiting for a person (alert:
///   `NotificationsDeadDeliveries`).
struct NotificationsMetrics: Service {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger
    var interval: Duration = .seconds(15)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await publish()
            } catch {
                logger.warning("could not count deliveries", metadata: ["error": "\(String(reflecting: error).prefix(200))"])
            }
            try? await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
        }
    }

    func publish() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
            var counts: [String: Int] = ["scheduled": 0, "sending": 0, "retrying": 0, "dead": 0]
            for try await (status, count) in try await connection.query(
                """
                SELECT status, count(*)::int FROM \(unescaped: schema.name).deliveries
                 WHERE status IN ('scheduled', 'sending', 'retrying', 'dead') GROUP BY status
                """, logger: logger
            ).decode((String, Int).self) { counts[status] = count }
            for (status, count) in counts { Gauge(label: "notifications_deliveries", dimensions: [("status", status)]).record(count) }
            Gauge(label: "notifications_dead_deliveries").record(counts["dead"] ?? 0)
            for try await age in try await connection.query(
                """
                SELECT coalesce(extract(epoch FROM now() - min(next_attempt_at)), 0)::float8 FROM \(unescaped: schema.name).deliveries
                 WHERE status IN ('scheduled', 'retrying') AND next_attempt_at <= now()
                """, logger: logger
            ).decode(Double.self) { Gauge(label: "notifications_oldest_due_age_seconds").record(age) }
        }
    }
}
