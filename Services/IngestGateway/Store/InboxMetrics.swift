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
/// at least fifty times its duration, so counting never takes more than 2% of a core.
struct InboxMetrics: Service {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger
    var interval: Duration = .seconds(15)

    static let statuses = ["pending", "published", "processed", "ignored", "superseded", "failed"]

    func run() async throws {
        let duration = Gauge(label: "gateway_inbox_count_seconds")
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let started = ContinuousClock.now
            do {
                let counts = try await countByStatus()
                for status in Self.statuses {
                    Gauge(label: "gateway_inbox_rows", dimensions: [("status", status)]).record(counts[status] ?? 0)
                }
            } catch {
                logger.warning("could not count inbox rows", metadata: ["error": "\(error)"])
            }
            let took = ContinuousClock.now - started
            duration.record(Double(took.totalNanoseconds) / 1e9)
            try? await Task.sleep(for: Self.pause(after: took, interval: interval))
        }
    }

    /// The pause before the next count: `interval`, or fifty times the last count's duration
    /// when that is longer.
    static func pause(after took: Duration, interval: Duration) -> Duration {
        max(interval, took * 50)
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
