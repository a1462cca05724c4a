import Contracts
import Foundation

/// A named gap: one check mismatched for one reason. There is one per check and reason; it opens,
/// resolves (by matching or by a person) and may open again.
struct Discrepancy: Equatable, Sendable {
    enum Status: String, Sendable, Codable { case open, resolved }

    var checkKey: String
    var reason: MismatchReason
    var status: Status
    /// How many times it has opened.
    var revision: Int
    var openedAt: Date
    var resolvedAt: Date?
    var resolvedBy: DiscrepancyResolution?
    /// The check as it was when it last opened: the amounts and items involved.
    var check: Check
    var owner: String?

    /// How long it has been (or was) open at `now`.
    func age(at now: Date) -> TimeInterval { (resolvedAt ?? now).timeIntervalSince(openedAt) }
}

/// What one re-evaluated check does to its discrepancies, decided from what is recorded.
///
/// - A check newly mismatched for a reason opens that reason's discrepancy (or reopens it).
/// - An open discrepancy whose check no longer fails for its reason (the counterpart arrived,
///   the amount was corrected, or the reason changed) resolves by `matching`.
/// - A discrepancy a person resolved stays resolved while the check keeps failing for the same
///   reason: the person already decided about that gap. It opens again only once the check has
///   passed or changed reason and then fails again.
enum DiscrepancyRules {
    enum Change: Equatable {
        case open(Discrepancy)
        case resolve(Discrepancy)
    }

    static func decide(previous: Check?, current: Check, recorded: [Discrepancy], now: Date) -> [Change] {
        var changes: [Change] = []
        let failing: MismatchReason? = if case .mismatched(let reason) = current.status { reason } else { nil }
        for discrepancy in recorded.sorted(by: { $0.reason.rawValue < $1.reason.rawValue })
        where discrepancy.status == .open && discrepancy.reason != failing {
            var resolved = discrepancy
            resolved.status = .resolved
            resolved.resolvedAt = now
            resolved.resolvedBy = .matching
            changes.append(.resolve(resolved))
        }
        guard let failing else { return changes }
        let existing = recorded.first { $0.reason == failing }
        if let existing {
            if existing.status == .open { return changes }
            let stillTheSameGap = previous?.status == .mismatched(failing)
            if existing.resolvedBy == .manual && stillTheSameGap { return changes }
        }
        changes.append(
            .open(
                Discrepancy(
                    checkKey: current.key, reason: failing, status: .open, revision: (existing?.revision ?? 0) + 1, openedAt: now, resolvedAt: nil,
                    resolvedBy: nil, check: current, owner: existing?.owner)))
        return changes
    }

    /// A person resolving an open discrepancy with a note.
    static func resolveManually(_ discrepancy: Discrepancy, now: Date) -> Result<Discrepancy, WorkbenchRefusal> {
        guard discrepancy.status == .open else { return .failure(.notOpen) }
        var resolved = discrepancy
        resolved.status = .resolved
        resolved.resolvedAt = now
        resolved.resolvedBy = .manual
        return .success(resolved)
    }

    /// A person reopening a resolved discrepancy: allowed while its check still fails for the
    /// reason (a resolved gap whose check now matches has nothing to reopen).
    static func reopen(_ discrepancy: Discrepancy, current: Check?, now: Date) -> Result<Discrepancy, WorkbenchRefusal> {
        guard discrepancy.status == .resolved else { return .failure(.alreadyOpen) }
        guard let current, current.status == .mismatched(discrepancy.reason) else { return .failure(.checkPasses) }
        var reopened = discrepancy
        reopened.status = .open
        reopened.revision += 1
        reopened.openedAt = now
        reopened.resolvedAt = nil
        reopened.resolvedBy = nil
        reopened.check = current
        return .success(reopened)
    }
}

/// Why a person's change to a discrepancy was refused (a 409 with this type).
enum WorkbenchRefusal: String, Error, Equatable {
    case notOpen = "discrepancy-not-open"
    case alreadyOpen = "discrepancy-already-open"
    case checkPasses = "check-no-longer-fails"

    var detail: String {
        switch self {
        case .notOpen: "the discrepancy is already resolved"
        case .alreadyOpen: "the discrepancy is open"
        case .checkPasses: "its check no longer fails for this reason, so there is nothing to reopen"
        }
    }
}
