import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Storage

/// Publishes `gateway_inbox_rows{status=…}`: how many inbox rows are in each status across all
/// orgs (an explicit, read-only operator scope; no row leaves the database), and
/// `gateway_inbox_count_seconds`, how long the last count took.
///
/// The count reads the whole inbox, so its cost grows with the table. It runs every `interval`,
/// or less often once a count takes longer than a fiftieth of that: the pause after a count is
/// at least fifty times its duration (so counting takes at most 2% of a core) up to twenty
/// intervals (beyond that, a table that large needs counters rather than a count).
struct InboxMetrics: Service {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger
    var interval: Duration = .seconds(15)

    static let statuses = InboxStatus.allCases.map(\.rawValue)

    func run() async throws {
        let duration = Gauge(label: "gateway_inbox_count_seconds")
        var pause = interval
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let started = ContinuousClock.now
            do {
                let counts = try await countByStatus()
                for status in Self.statuses {
                    Gauge(label: "gateway_inbox_rows", dimensions: [("status", status)]).record(counts[status] ?? 0)
                }
                let took = ContinuousClock.now - started
                duration.record(Double(took.totalNanoseconds) / 1e9)
                pause = Self.pause(after: took, interval: interval)
            } catch {
                // A failed count (the database away, a pool lease that took long) says nothing
                // about the table's size: try again after the normal interval.
                logger.warning("could not count inbox rows", metadata: ["error": "\(error)"])
                pause = interval
            }
            // A long pause must not hold up the service's shutdown.
            try? await cancelWhenGracefulShutdown { [pause] in try await Task.sleep(for: pause) }
        }
    }

    /// The pause after a successful count: `interval`, or fifty times the count's duration when
    /// that is longer, but never more than twenty intervals (5 minutes by default), so the
    /// gauges stay within minutes of the truth however large the inbox grows.
    static func pause(after took: Duration, interval: Duration) -> Duration {
        min(max(interval, took * 50), interval * 20)
    }

    func countByStatus() async throws -> [String: Int] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
            var counts: [String: Int] = [:]
            for try await (status, count) in try await connection.query(
                "SELECT status, count(*)::int FROM \(unescaped: schema.name).webhook_inbox GROUP BY status", logger: logger
            ).decode((String, Int).self) {
                counts[status] = count
            }
            return counts
        }
    }
}
