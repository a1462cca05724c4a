import Contracts
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Storage

/// One piece of time-driven work of a service (dunning steps, the engagement cadence, …).
///
/// A run must be safe to repeat: the runner keeps two replicas from running the same job at the
/// same time, but a run cut short by a crash runs again, so each run decides from rows in the
/// database (what is due, what was done) and records what it did in the same transaction as the
/// effect. Nothing about a job's progress lives in memory.
public struct ScheduledJob: Sendable {
    /// Unique within the service, e.g. `billing.dunning`; the heartbeat row's key and metric label.
    public var name: String
    /// The pause between the end of one run and the start of the next.
    public var interval: Duration
    /// One run at `now`, for every org or only `org` (an operator's "run now").
    public var body: @Sendable (_ now: Date, _ org: TenantID?) async throws -> JobRunReport

    public init(name: String, interval: Duration, body: @escaping @Sendable (_ now: Date, _ org: TenantID?) async throws -> JobRunReport) {
        self.name = name
        self.interval = interval
        self.body = body
    }
}

/// What one run did, in counts (never personal data).
public struct JobRunReport: Sendable, Equatable, Codable {
    /// Items the run acted on (steps sent, messages requested, …).
    public var processed: Int
    /// Items it looked at and left for later (not due yet, waiting for data).
    public var deferred: Int

    public init(processed: Int = 0, deferred: Int = 0) {
        self.processed = processed
        self.deferred = deferred
    }

    public static func + (lhs: JobRunReport, rhs: JobRunReport) -> JobRunReport {
        JobRunReport(processed: lhs.processed + rhs.processed, deferred: lhs.deferred + rhs.deferred)
    }
}

/// How a run request ended.
public enum JobRunOutcome: Sendable, Equatable {
    case ran(JobRunReport)
    /// Another replica (or another run in this process) holds the job's claim.
    case busy
    /// The run threw; the heartbeat counts a failure.
    case failed(String)
}

/// Runs a service's scheduled jobs, each in its own loop.
///
/// Guarantees:
/// - **One run at a time across replicas**: a run holds the job's claim, a PostgreSQL session
///   advisory lock keyed by schema and job name, taken with `pg_try_advisory_lock`; a replica
///   that does not get it skips the run. The lock belongs to the database session, so a process
///   that dies releases it with its connection: no stale claim outlives its holder.
/// - **Heartbeats**: every run records `job_heartbeats` (last run, last success, consecutive
///   failures; `GET /admin/jobs/status`) and the metrics `job_last_heartbeat_timestamp_seconds`,
///   `job_last_success_timestamp_seconds`, `job_errors_total`, `job_runs_total`.
/// - **Injected clock**: a run asks `now` once and hands it to the job, so tests drive time.
public struct JobRunner: Service {
    public let jobs: [ScheduledJob]
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger
    let now: @Sendable () -> Date

    public init(jobs: [ScheduledJob], client: PostgresClient, schema: ServiceSchema, logger: Logger, now: @escaping @Sendable () -> Date) {
        self.jobs = jobs
        self.client = client
        self.schema = schema
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for job in jobs {
                group.addTask {
                    while !Task.isCancelled && !Task.isShuttingDownGracefully {
                        _ = await runOnce(job, org: nil)
                        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: job.interval) }
                    }
                }
            }
        }
    }

    /// The job called `name`, if this runner has it.
    public func job(named name: String) -> ScheduledJob? { jobs.first { $0.name == name } }

    /// Runs `job` once now (for every org, or only `org`) unless another run holds its claim,
    /// and records the heartbeat.
    public func runOnce(_ job: ScheduledJob, org: TenantID?) async -> JobRunOutcome {
        let time = now()
        let outcome: JobRunOutcome
        do {
            outcome = try await client.withConnection { connection in
                let key = "\(schema.name):\(job.name)"
                let rows = try await connection.query("SELECT pg_try_advisory_lock(hashtext(\(key)))", logger: logger)
                var claimed = false
                for try await granted in rows.decode(Bool.self) { claimed = granted }
                guard claimed else { return JobRunOutcome.busy }
                let result: JobRunOutcome
                do {
                    result = .ran(try await job.body(time, org))
                } catch {
                    result = .failed(String(String(reflecting: error).prefix(300)))
                }
                _ = try? await connection.query("SELECT pg_advisory_unlock(hashtext(\(key)))", logger: logger)
                return result
            }
        } catch {
            outcome = .failed(String(String(reflecting: error).prefix(300)))
        }
        switch outcome {
        case .busy:
            return outcome
        case .ran(let report):
            if report.processed > 0 {
                logger.info("job ran", metadata: ["job": "\(job.name)", "processed": "\(report.processed)", "deferred": "\(report.deferred)"])
            }
            try? await JobHeartbeats(schema: schema).record(job: job.name, error: nil, at: time, client: client, logger: logger)
        case .failed(let error):
            logger.warning("job failed", metadata: ["job": "\(job.name)", "error": "\(error)"])
            try? await JobHeartbeats(schema: schema).record(job: job.name, error: error, at: time, client: client, logger: logger)
        }
        return outcome
    }
}
