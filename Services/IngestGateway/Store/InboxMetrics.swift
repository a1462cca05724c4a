import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Storage

/// Publishes `gateway_inbox_rows{status=…}` every `interval`: how many inbox rows are in each
/// status across all orgs (an explicit, read-only operator scope; no row leaves the database).
struct InboxMetrics: Service {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger
    var interval: Duration = .seconds(15)

    static let statuses = ["pending", "published", "processed", "ignored", "superseded", "failed"]

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let counts = try await countByStatus()
                for status in Self.statuses {
                    Gauge(label: "gateway_inbox_rows", dimensions: [("status", status)]).record(counts[status] ?? 0)
                }
            } catch {
                logger.warning("could not count inbox rows", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
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
