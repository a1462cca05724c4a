import Contracts
import Foundation
import Logging
import Metrics

/// Counts the product backend's usage reports (`usage.recorded`) inside the inbox's transaction:
/// each transaction id once per org (a report sent twice, under another event id, counts once),
/// in the UTC month of its `recorded_at`.
struct UsageEventsHandler: Sendable {
    let logger: Logger
    let now: @Sendable () -> Date

    func handle(_ event: InboxEvent<UsageRecorded>, store: some BillingStore) async throws -> InboxOutcome {
        let usage = event.data
        let counted = try await store.recordUsage(usage, month: UsageRules.month(of: usage.recordedAt), eventID: event.envelope.id, at: now())
        guard counted else {
            Counter(label: "billing_usage_repeats_total").increment()
            return .ignored
        }
        Counter(label: "billing_usage_recorded_total").increment()
        return .applied
    }
}
