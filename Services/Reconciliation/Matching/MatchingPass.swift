import Contracts
import Foundation
import Storage

/// One re-check of the items around some seeds: load the neighborhood, decide every check
/// (`Matcher`) and what it does to discrepancies (`DiscrepancyRules`), save what changed and
/// enqueue its events, all inside the caller's transaction. Consumed events, bank statement
/// uploads and runs all go through here, so the rules live once.
///
/// Guarantees: a pass over unchanged facts changes nothing and publishes nothing; event ids are
/// derived from the org, the check or discrepancy and its revision, so a retried transaction can
/// never publish a second copy.
struct MatchingPass: Sendable {
    var tenant: TenantID
    var now: Date
    var correlationID: String
    var causationID: String?

    struct Summary: Equatable, Sendable {
        var checked = 0
        var changed = 0
        var opened = 0
        var resolved = 0

        mutating func add(_ other: Summary) {
            checked += other.checked
            changed += other.changed
            opened += other.opened
            resolved += other.resolved
        }
    }

    func run(around seeds: Set<ItemRef>, store: some ReconciliationStore) async throws -> Summary {
        let settings = try await store.settings()
        let loaded = try await Neighborhood.load(around: seeds, lookup: store, settings: settings)
        let checks = Matcher.checks(loaded.facts, settings: settings, now: now).filter { loaded.interior.contains($0.subject) }
        let keys = Set(checks.map(\.key))
        let recorded = try await store.checks(keys: keys)
        let discrepancies = try await store.discrepancies(checkKeys: keys)
        var summary = Summary(checked: checks.count)
        for check in checks {
            let previous = recorded[check.key]
            if previous?.check != check {
                let saved = RecordedCheck(check: check, revision: (previous?.revision ?? 0) + 1)
                try await store.save(saved, now: now)
                try await store.enqueue(ReconciliationPublication.matchRecorded(saved, tenant: tenant, now: now, correlationID: correlationID, causationID: causationID))
                summary.changed += 1
            }
            let known = discrepancies[check.key] ?? []
            let changes = DiscrepancyRules.decide(previous: previous?.check, current: check, recorded: known.map(\.discrepancy), now: now)
            for change in changes {
                switch change {
                case .open(let discrepancy):
                    let saved = RecordedDiscrepancy(
                        id: ReconciliationPublication.discrepancyID(tenant: tenant, checkKey: check.key, reason: discrepancy.reason), discrepancy: discrepancy)
                    try await store.save(saved, now: now)
                    try await store.enqueue(ReconciliationPublication.opened(saved, tenant: tenant, correlationID: correlationID, causationID: causationID))
                    summary.opened += 1
                case .resolve(let discrepancy):
                    let saved = RecordedDiscrepancy(
                        id: ReconciliationPublication.discrepancyID(tenant: tenant, checkKey: check.key, reason: discrepancy.reason), discrepancy: discrepancy)
                    try await store.save(saved, now: now)
                    try await store.enqueue(ReconciliationPublication.resolved(saved, tenant: tenant, correlationID: correlationID, causationID: causationID))
                    summary.resolved += 1
                }
            }
        }
        if summary.changed > 0 { try await store.refreshDeadline() }
        return summary
    }
}

/// The reconciliation topic's messages, with ids derived from what they announce.
enum ReconciliationPublication {
    static let source = "/tally/reconciliation"

    /// Stable per org, check and reason.
    static func discrepancyID(tenant: TenantID, checkKey: String, reason: MismatchReason) -> String {
        "dsc_" + ContentHash.sha256Hex(Array("\(tenant.rawValue)\n\(checkKey)\n\(reason.rawValue)".utf8)).prefix(24)
    }

    static func eventID(_ parts: String...) -> String {
        "rec-" + ContentHash.sha256Hex(Array(parts.joined(separator: "\n").utf8)).prefix(32)
    }

    static func matchRecorded(_ recorded: RecordedCheck, tenant: TenantID, now: Date, correlationID: String, causationID: String?) throws -> OutboxMessage {
        let check = recorded.check
        let until: Date? = if case .expected(let until) = check.status { until } else { nil }
        let reason: String? = if case .mismatched(let reason) = check.status { reason.rawValue } else { nil }
        let payload = MatchRecorded(
            org: tenant.rawValue, checkKey: check.key, leg: check.leg.rawValue, subject: check.subject.description,
            counterparts: check.counterparts.map(\.description), status: check.status.name, reason: reason, expectedUntil: until, expected: check.expected,
            actual: check.actual, orderID: check.orderID, day: check.day.description, revision: recorded.revision, recordedAt: now)
        return try OutboxMessage(
            EventEnvelope(
                id: eventID(tenant.rawValue, "match", check.key, String(recorded.revision)), source: source, time: now, tenant: tenant.rawValue,
                correlationID: correlationID, causationID: causationID, data: payload))
    }

    static func opened(_ recorded: RecordedDiscrepancy, tenant: TenantID, correlationID: String, causationID: String?) throws -> OutboxMessage {
        let discrepancy = recorded.discrepancy
        let check = discrepancy.check
        let payload = DiscrepancyOpened(
            org: tenant.rawValue, discrepancyID: recorded.id, checkKey: check.key, leg: check.leg.rawValue, reason: discrepancy.reason.rawValue,
            subject: check.subject.description, counterparts: check.counterparts.map(\.description), expected: check.expected, actual: check.actual,
            orderID: check.orderID, day: check.day.description, revision: discrepancy.revision, openedAt: discrepancy.openedAt)
        return try OutboxMessage(
            EventEnvelope(
                id: eventID(tenant.rawValue, "opened", recorded.id, String(discrepancy.revision)), source: source, time: discrepancy.openedAt,
                tenant: tenant.rawValue, correlationID: correlationID, causationID: causationID, data: payload))
    }

    static func resolved(_ recorded: RecordedDiscrepancy, tenant: TenantID, correlationID: String, causationID: String?) throws -> OutboxMessage {
        let discrepancy = recorded.discrepancy
        let at = discrepancy.resolvedAt ?? discrepancy.openedAt
        let payload = DiscrepancyResolved(
            org: tenant.rawValue, discrepancyID: recorded.id, checkKey: discrepancy.checkKey, reason: discrepancy.reason.rawValue,
            resolvedBy: discrepancy.resolvedBy ?? .matching, revision: discrepancy.revision, resolvedAt: at,
            openSeconds: Int64(discrepancy.age(at: at).rounded(.down)))
        return try OutboxMessage(
            EventEnvelope(
                id: eventID(tenant.rawValue, "resolved", recorded.id, String(discrepancy.revision)), source: source, time: at, tenant: tenant.rawValue,
                correlationID: correlationID, causationID: causationID, data: payload))
    }
}
