import Contracts
import Foundation
import Logging
import PostgresNIO
import ServiceRuntime
import Storage

/// `reconciliation.runs`: the seed's weekly verify, always on. Each run re-checks one org's
/// items whose expected counterpart is now overdue (so `expected` turns `mismatched` when its
/// window passes, even if no event arrives), writes a `sync_runs` row and publishes
/// `run.completed`. A manual run (`POST runs`) also re-checks every failing item.
///
/// Runs survive restarts without doubling: the work is a `MatchingPass`, which changes only what
/// differs from what is recorded, in the same transaction as the run's row.
struct ReconciliationRunJob: Sendable {
    static let name = "reconciliation.runs"
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger

    func job(interval: Duration) -> ScheduledJob {
        ScheduledJob(name: Self.name, interval: interval) { now, org in try await scheduled(now: now, org: org) }
    }

    func scheduled(now: Date, org: TenantID?) async throws -> JobRunReport {
        let orgs: [TenantID]
        if let org { orgs = [org] } else { orgs = try await RunStore.dueOrgs(now: now, client: client, schema: schema, logger: logger) }
        var report = JobRunReport()
        for org in orgs {
            let run = try await client.withTenantTransaction(org, logger: logger) { connection in
                try await self.run(org: org, trigger: .scheduled, requestedBy: nil, correlationID: "job:\(Self.name)", now: now, on: connection)
            }
            report.processed += run.itemsChecked
        }
        return report
    }

    /// One run of one org, in the caller's tenant transaction.
    func run(
        org: TenantID, trigger: SyncRun.Trigger, requestedBy: String?, correlationID: String, now: Date, on connection: PostgresConnection
    ) async throws
        -> SyncRun
    {
        let runs = RunStore(schema: schema, connection: connection, logger: logger)
        let store = PostgresReconciliationStore(schema: schema, connection: connection, logger: logger)
        let seeds = try await runs.subjectsToCheck(now: now, failing: trigger == .manual)
        let summary = try await MatchingPass(tenant: org, now: now, correlationID: correlationID, causationID: nil).run(around: seeds, store: store)
        try await store.refreshDeadline()
        let run = SyncRun(
            runID: "run_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20), trigger: trigger, startedAt: now,
            endedAt: max(now, Date()), itemsChecked: summary.checked, opened: summary.opened, resolved: summary.resolved, errors: 0, requestedBy: requestedBy)
        try await runs.insert(run)
        let payload = RunCompleted(
            org: org.rawValue, runID: run.runID, trigger: run.trigger.rawValue, startedAt: run.startedAt, endedAt: run.endedAt, itemsChecked: run.itemsChecked,
            opened: run.opened, resolved: run.resolved, errors: run.errors)
        try await store.enqueue(
            try OutboxMessage(
                EventEnvelope(
                    id: ReconciliationPublication.eventID(org.rawValue, "run", run.runID), source: ReconciliationPublication.source, time: run.endedAt,
                    tenant: org.rawValue, correlationID: correlationID, causationID: nil, data: payload)))
        return run
    }
}
