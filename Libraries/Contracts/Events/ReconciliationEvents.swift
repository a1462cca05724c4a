import Foundation

// The reconciliation topic (`tally.reconciliation.v1`): what analytics reads to follow every
// order from sale to deposit. Every event is keyed by its org, so one org's story (and so each
// of its orders') stays in order on one partition: a check can move from one order's story to
// another's as facts arrive, and only a per-org order lets a consumer rebuild the state exactly.
//
// Items are named `kind:id`: `order:ord_7731`, `payment:pi_3Q…`, `payout:po_1Q…`,
// `bank_line:<account>/<bank reference>`.

/// A check changed: one leg of one item was matched, is still expected, or mismatched.
///
/// Guarantees: published once per change (its id is derived from the org, the check and
/// `revision`); `revision` counts 1, 2, 3… per check, so the latest revision is the check's
/// state; no personal data (ids and amounts only).
public struct MatchRecorded: EventPayload {
    public static let eventType = "tally.reconciliation.match.recorded.v1"
    public static let topic = TallyTopic.reconciliation

    public var org: String
    /// `<leg>:<item>`, unique per org, e.g. `order_payment:order:ord_7731`.
    public var checkKey: String
    /// `order_payment`, `payment_payout`, `payout_bank` or `refunds`.
    public var leg: String
    public var subject: String
    public var counterparts: [String]
    /// `matched`, `expected` or `mismatched`.
    public var status: String
    /// Set when `mismatched`: e.g. `amount_mismatch`.
    public var reason: String?
    /// When an `expected` check turns mismatched if its counterpart has not arrived.
    public var expectedUntil: Date?
    /// What the subject states (an order's total, a payout's amount) and what its counterparts add up to.
    public var expected: Money?
    public var actual: Money?
    /// The order the check belongs to, when one is known.
    public var orderID: String?
    /// The subject's business day, `YYYY-MM-DD` (UTC): an order's placing, a payment's capture,
    /// a payout's arrival, a bank line's booking, a payment's first refund. Daily summaries group by it.
    public var day: String
    public var revision: Int
    public var recordedAt: Date

    public init(
        org: String, checkKey: String, leg: String, subject: String, counterparts: [String], status: String, reason: String?, expectedUntil: Date?,
        expected: Money?, actual: Money?, orderID: String?, day: String, revision: Int, recordedAt: Date
    ) {
        self.org = org
        self.checkKey = checkKey
        self.leg = leg
        self.subject = subject
        self.counterparts = counterparts
        self.status = status
        self.reason = reason
        self.expectedUntil = expectedUntil
        self.expected = expected
        self.actual = actual
        self.orderID = orderID
        self.day = day
        self.revision = revision
        self.recordedAt = recordedAt
    }

    public var partitionKey: String { org }

    enum CodingKeys: String, CodingKey {
        case org, checkKey = "check_key", leg, subject, counterparts, status, reason, expectedUntil = "expected_until", expected, actual
        case orderID = "order_id", day, revision, recordedAt = "recorded_at"
    }
}

/// A discrepancy opened: a check is mismatched for `reason`. Opened again (a higher
/// `revision`, the same id) when it comes back after being resolved.
public struct DiscrepancyOpened: EventPayload {
    public static let eventType = "tally.reconciliation.discrepancy.opened.v1"
    public static let topic = TallyTopic.reconciliation

    public var org: String
    /// Stable for the check and reason: `dsc_…`.
    public var discrepancyID: String
    public var checkKey: String
    public var leg: String
    public var reason: String
    public var subject: String
    public var counterparts: [String]
    public var expected: Money?
    public var actual: Money?
    public var orderID: String?
    /// The check's business day (as in `MatchRecorded.day`).
    public var day: String
    /// How many times it has been opened, this one included.
    public var revision: Int
    public var openedAt: Date

    public init(
        org: String, discrepancyID: String, checkKey: String, leg: String, reason: String, subject: String, counterparts: [String], expected: Money?,
        actual: Money?, orderID: String?, day: String, revision: Int, openedAt: Date
    ) {
        self.org = org
        self.discrepancyID = discrepancyID
        self.checkKey = checkKey
        self.leg = leg
        self.reason = reason
        self.subject = subject
        self.counterparts = counterparts
        self.expected = expected
        self.actual = actual
        self.orderID = orderID
        self.day = day
        self.revision = revision
        self.openedAt = openedAt
    }

    public var partitionKey: String { org }

    enum CodingKeys: String, CodingKey {
        case org, discrepancyID = "discrepancy_id", checkKey = "check_key", leg, reason, subject, counterparts, expected, actual
        case orderID = "order_id", day, revision, openedAt = "opened_at"
    }
}

/// How a discrepancy was closed.
public enum DiscrepancyResolution: String, Codable, Sendable, Equatable {
    /// The missing or corrected counterpart arrived and the check no longer fails for this reason.
    case matching
    /// A person resolved it with a note (kept, with who, in the service's audit log).
    case manual
}

/// A discrepancy closed, by late data (`matching`) or by a person (`manual`).
public struct DiscrepancyResolved: EventPayload {
    public static let eventType = "tally.reconciliation.discrepancy.resolved.v1"
    public static let topic = TallyTopic.reconciliation

    public var org: String
    public var discrepancyID: String
    public var checkKey: String
    public var reason: String
    public var resolvedBy: DiscrepancyResolution
    /// The opening this resolves (its `revision`).
    public var revision: Int
    public var resolvedAt: Date
    /// How long it was open, in whole seconds.
    public var openSeconds: Int64

    public init(
        org: String, discrepancyID: String, checkKey: String, reason: String, resolvedBy: DiscrepancyResolution, revision: Int, resolvedAt: Date,
        openSeconds: Int64
    ) {
        self.org = org
        self.discrepancyID = discrepancyID
        self.checkKey = checkKey
        self.reason = reason
        self.resolvedBy = resolvedBy
        self.revision = revision
        self.resolvedAt = resolvedAt
        self.openSeconds = openSeconds
    }

    public var partitionKey: String { org }

    enum CodingKeys: String, CodingKey {
        case org, discrepancyID = "discrepancy_id", checkKey = "check_key", reason, resolvedBy = "resolved_by", revision, resolvedAt = "resolved_at"
        case openSeconds = "open_seconds"
    }
}

/// A reconciliation run finished: the scheduled or manual re-check of windows and aging.
public struct RunCompleted: EventPayload {
    public static let eventType = "tally.reconciliation.run.completed.v1"
    public static let topic = TallyTopic.reconciliation

    public var org: String
    public var runID: String
    /// `scheduled` or `manual`.
    public var trigger: String
    public var startedAt: Date
    public var endedAt: Date
    public var itemsChecked: Int
    public var opened: Int
    public var resolved: Int
    public var errors: Int

    public init(org: String, runID: String, trigger: String, startedAt: Date, endedAt: Date, itemsChecked: Int, opened: Int, resolved: Int, errors: Int) {
        self.org = org
        self.runID = runID
        self.trigger = trigger
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.itemsChecked = itemsChecked
        self.opened = opened
        self.resolved = resolved
        self.errors = errors
    }

    public var partitionKey: String { org }

    enum CodingKeys: String, CodingKey {
        case org, runID = "run_id", trigger, startedAt = "started_at", endedAt = "ended_at", itemsChecked = "items_checked", opened, resolved, errors
    }
}
