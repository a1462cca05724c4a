import Foundation
import ServiceRuntime

extension DeliverySettings {
    /// The worker's pacing from the environment (every value has a default):
    ///
    /// - `TALLY_NOTIFY_RETRY_BASE_SECONDS` (5), `TALLY_NOTIFY_RETRY_FACTOR` (6),
    ///   `TALLY_NOTIFY_RETRY_MAX_SECONDS` (36000), `TALLY_NOTIFY_MAX_ATTEMPTS` (8): the retry schedule.
    /// - `TALLY_NOTIFY_SEND_DEADLINE_SECONDS` (60): the most one attempt may take on any channel.
    /// - `TALLY_NOTIFY_LEASE_SECONDS` (120): how long a claim holds a delivery; at least twice the
    ///   send deadline, so only a stopped worker's lease runs out.
    /// - `TALLY_NOTIFY_POLL_MILLISECONDS` (1000): how often an idle worker looks for due deliveries.
    /// - `TALLY_NOTIFY_CONCURRENCY` (16): sends in flight at once per process.
    /// - `TALLY_NOTIFY_RECIPIENT_HOURLY_LIMIT` (20): messages per address per hour.
    /// - `TALLY_NOTIFY_CONTACT_WAIT_SECONDS` (600): how long a request waits for its customer's details.
    init(environment: EnvironmentReader) throws(ConfigurationError) {
        let base = try environment.integer("TALLY_NOTIFY_RETRY_BASE_SECONDS", default: 5, range: 1...3600)
        let factor = try environment.integer("TALLY_NOTIFY_RETRY_FACTOR", default: 6, range: 1...100)
        let maximum = try environment.integer("TALLY_NOTIFY_RETRY_MAX_SECONDS", default: 36_000, range: 1...604_800)
        guard maximum >= base else {
            throw .invalid(variable: "TALLY_NOTIFY_RETRY_MAX_SECONDS", reason: "must be at least TALLY_NOTIFY_RETRY_BASE_SECONDS (\(base))")
        }
        let attempts = try environment.integer("TALLY_NOTIFY_MAX_ATTEMPTS", default: 8, range: 1...50)
        let deadline = try environment.integer("TALLY_NOTIFY_SEND_DEADLINE_SECONDS", default: 60, range: 1...600)
        let lease = try environment.integer("TALLY_NOTIFY_LEASE_SECONDS", default: 120, range: 2...3600)
        guard lease >= deadline * 2 else {
            throw .invalid(variable: "TALLY_NOTIFY_LEASE_SECONDS", reason: "must be at least twice TALLY_NOTIFY_SEND_DEADLINE_SECONDS (\(deadline))")
        }
        let poll = try environment.integer("TALLY_NOTIFY_POLL_MILLISECONDS", default: 1000, range: 50...60_000)
        let concurrency = try environment.integer("TALLY_NOTIFY_CONCURRENCY", default: 16, range: 1...256)
        let limit = try environment.integer("TALLY_NOTIFY_RECIPIENT_HOURLY_LIMIT", default: 20, range: 1...10_000)
        let wait = try environment.integer("TALLY_NOTIFY_CONTACT_WAIT_SECONDS", default: 600, range: 0...86_400)
        self.init(
            policy: RetryPolicy(base: .seconds(base), factor: factor, maximum: .seconds(maximum), maxAttempts: attempts, jitter: 0.2), lease: .seconds(lease),
            sendDeadline: .seconds(deadline),
            pollInterval: .milliseconds(poll), concurrency: concurrency, recipientLimit: RecipientLimit(perHour: limit), contactWait: .seconds(wait))
    }
}
