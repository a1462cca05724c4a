import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// One billing sync: when, who, what it looked at and what differed.
struct SyncRun: Sendable, Equatable {
    var id: UUID
    var actor: String
    var status: String
    var startedAt: Date
    var finishedAt: Date
    var itemsProcessed: Int
    var differences: [SyncDifference]
    var errors: [String]
}

/// Billing sync (the seed's "Run Sync"): rebuilds every subscription of an org from its history
/// (the consumed canonical events and the commands, as applied) and repairs the projections that
/// differ, reporting each difference.
///
/// Guarantees: each subscription is rebuilt and repaired in its own transaction under its lock,
/// so a sync never races a consumed event; a repaired projection whose entitlement changed
/// publishes `entitlement.changed` (cause `sync`); the run is recorded in `sync_runs` and
/// audited, even when some subscriptions failed (`errors` names them). Running it again right
/// after finds nothing to repair.
struct BillingSync: Sendable {
    let queries: BillingQueries
    let audit: AuditLog
    let logger: Logger
    let now: @Sendable () -> Date

    func run(org: TenantID, by actor: SubscriptionCommands.Actor) async throws -> SyncRun {
        let started = BillingClock.instant(now())
        let runID = Self.timeOrderedID(at: started)
        var differences: [SyncDifference] = []
        var errors: [String] = []
        var processed = 0
        let cause = ChangeCause(eventID: nil, actor: actor.subject, correlationID: actor.correlationID, causationID: "sync:\(runID.uuidString.lowercased())")
        for id in try await queries.subscriptionIDs(org: org) {
            do {
                let (found, refused) = try await queries.inTenant(org) { store, connection in
                    try await repair(id, store: store, connection: connection, cause: cause, org: org)
                }
                differences += found
                errors += refused
            } catch {
                errors.append("subscription \(id.uuidString.lowercased()): \(type(of: error))")
            }
            processed += 1
        }
        let run = SyncRun(
            id: runID, actor: actor.subject, status: errors.isEmpty ? "completed" : "failed", startedAt: started, finishedAt: BillingClock.instant(now()),
            itemsProcessed: processed, differences: differences, errors: errors)
        try await queries.inTenant(org) { _, connection in
            try await queries.insert(run, connection: connection)
            try await audit.record(
                org: org, actor: actor.subject, action: "billing.sync", target: "sync_run:\(runID.uuidString.lowercased())", before: nil as [String: String]?,
                after: ["items_processed": String(processed), "differences": String(differences.count), "errors": String(errors.count)],
                correlationID: actor.correlationID, on: connection, logger: logger)
        }
        return run
    }

    /// Rebuilds one subscription and writes the rebuilt projection when it differs.
    private func repair(
        _ id: UUID, store: PostgresBillingStore, connection: PostgresConnection, cause: ChangeCause, org: TenantID
    ) async throws
        -> ([SyncDifference], [String])
    {
        guard let reference = try await queries.reference(of: id, connection: connection), var stored = try await store.subscription(reference) else {
            return ([], [])
        }
        let history = try await queries.history(of: id, connection: connection)
        let (rebuilt, refused) = SyncRules.rebuild(history.map(\.change))
        let item = "subscription:\(reference.key)"
        let errors = refused.map { "\(item): \($0)" }
        guard let rebuilt else { return ([], errors + ["\(item): the history folds to nothing"]) }
        let found = SyncRules.differences(item: item, stored: stored.projection, rebuilt: rebuilt)
        guard !found.isEmpty else { return ([], errors) }
        let time = BillingClock.instant(now())
        stored.projection = rebuilt
        _ = try await SubscriptionUpdates.publishIfChanged(&stored, cause: "sync", by: cause, tenant: org, store: store, now: time)
        try await store.rewrite(stored, at: time)
        return (found, errors)
    }

    /// A UUID whose first 48 bits are the time in milliseconds (version 7), so runs sort by start.
    static func timeOrderedID(at date: Date) -> UUID {
        let milliseconds = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index))) }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13],
                bytes[14], bytes[15]
            ))
    }
}
