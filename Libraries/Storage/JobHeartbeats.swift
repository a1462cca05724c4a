import Foundation
import Logging
import Metrics
import PostgresNIO

/// What a time-driven job reports after each run, kept in the service's `job_heartbeats` table
/// (platform migration 9) and exported as metrics, so a job that stopped running or keeps
/// failing is visible (`GET /admin/jobs/status`, `tally doctor`, and each job's staleness alert,
/// e.g. `NotificationsWorkerStale`).
///
/// Metrics, labelled by job name only: `job_runs_total{job,outcome}`,
/// `job_last_heartbeat_timestamp_seconds{job}` (every run), `job_last_success_timestamp_seconds{job}`,
/// `job_errors_total{job}` (failed runs), `job_consecutive_failures{job}`.
public struct JobHeartbeats: Sendable {
    public let schema: ServiceSchema
    public init(schema: ServiceSchema) { self.schema = schema }

    /// One job's row.
    public struct Beat: Codable, Sendable, Equatable {
        public var job: String
        public var lastRunAt: Date
        public var lastSuccessAt: Date?
        public var consecutiveFailures: Int
        /// A short error description; never personal data (jobs log names and codes only).
        public var lastError: String?
        public var runs: Int64

        enum CodingKeys: String, CodingKey {
            case job, lastRunAt = "last_run_at", lastSuccessAt = "last_success_at", consecutiveFailures = "consecutive_failures"
            case lastError = "last_error", runs
        }
    }

    /// Records a run of `job`: `error` nil for a success.
    public func record(job: String, error: String?, at time: Date, client: PostgresClient, logger: Logger) async throws {
        let rows = try await client.query(
            """
            INSERT INTO \(unescaped: schema.name).job_heartbeats AS h (job, last_run_at, last_success_at, consecutive_failures, last_error, runs)
            VALUES (\(job), \(time), \(error == nil ? time : nil), \(error == nil ? 0 : 1), \(error), 1)
            ON CONFLICT (job) DO UPDATE
               SET last_run_at = excluded.last_run_at,
                   last_success_at = coalesce(excluded.last_success_at, h.last_success_at),
                   consecutive_failures = CASE WHEN excluded.last_error IS NULL THEN 0 ELSE h.consecutive_failures + 1 END,
                   last_error = excluded.last_error,
                   runs = h.runs + 1
            RETURNING consecutive_failures, extract(epoch FROM last_success_at)::float8
            """, logger: logger)
        for try await (failures, lastSuccess) in rows.decode((Int, Double?).self) {
            Gauge(label: "job_consecutive_failures", dimensions: [("job", job)]).record(failures)
            if let lastSuccess { Gauge(label: "job_last_success_timestamp_seconds", dimensions: [("job", job)]).record(lastSuccess) }
        }
        Gauge(label: "job_last_heartbeat_timestamp_seconds", dimensions: [("job", job)]).record(time.timeIntervalSince1970)
        Counter(label: "job_runs_total", dimensions: [("job", job), ("outcome", error == nil ? "success" : "failure")]).increment()
        if error != nil { Counter(label: "job_errors_total", dimensions: [("job", job)]).increment() }
    }

    /// Every job's row, by name.
    public func all(client: PostgresClient, logger: Logger) async throws -> [Beat] {
        let rows = try await client.query(
            """
            SELECT job, last_run_at, last_success_at, consecutive_failures, last_error, runs
              FROM \(unescaped: schema.name).job_heartbeats ORDER BY job
            """, logger: logger)
        var beats: [Beat] = []
        for try await (job, run, success, failures, error, runs) in rows.decode((String, Date, Date?, Int, String?, Int64).self) {
            beats.append(Beat(job: job, lastRunAt: run, lastSuccessAt: success, consecutiveFailures: failures, lastError: error, runs: runs))
        }
        return beats
    }
}
