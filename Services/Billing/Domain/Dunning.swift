import Contracts
import Foundation

/// What a dunning step does.
enum DunningAction: String, Codable, Sendable, Equatable, CaseIterable {
    /// The first message. It is the payment-failed message the invoice's failure already
    /// requested (`invoice:{invoice}:dunning:payment_failed`), so it is only ever at day 0.
    case notice
    case reminder
    /// Withholds the entitlement (and tells the customer) until the invoice is paid.
    case block
    case finalNotice = "final_notice"

    /// The notifications template the step's message uses.
    var templateKey: String {
        switch self {
        case .notice: "dunning.payment_failed"
        case .reminder: "dunning.reminder"
        case .block: "dunning.access_blocked"
        case .finalNotice: "dunning.final_notice"
        }
    }
}

/// One step of an org's overdue policy: on `day` days after the oldest unpaid invoice failed.
struct DunningStep: Codable, Sendable, Equatable {
    var day: Int
    var action: DunningAction
}

/// An org's overdue policy: its steps by day, each action at most once.
struct DunningPolicy: Codable, Sendable, Equatable {
    var steps: [DunningStep]

    /// Day 0 notice, day 3 reminder, day 7 entitlement blocked, day 14 final notice.
    static let standard = DunningPolicy(steps: [
        DunningStep(day: 0, action: .notice), DunningStep(day: 3, action: .reminder), DunningStep(day: 7, action: .block),
        DunningStep(day: 14, action: .finalNotice),
    ])

    /// Why a policy is refused: the field and the rule.
    struct Refusal: Error, Equatable {
        var field: String
        var rule: String
    }

    /// The policy of `steps`, or the first rule they break: 1 to 10 steps, days 0 to 365 in
    /// ascending order, each action at most once, `notice` only at day 0.
    static func validated(_ steps: [DunningStep]) throws(Refusal) -> DunningPolicy {
        guard (1...10).contains(steps.count) else { throw Refusal(field: "policy", rule: "must hold 1 to 10 steps") }
        var previous = -1
        var seen: Set<DunningAction> = []
        for step in steps {
            let field = step.action.rawValue
            guard (0...365).contains(step.day) else { throw Refusal(field: field, rule: "must be a day from 0 to 365") }
            guard step.day >= previous else { throw Refusal(field: field, rule: "must not be before the previous step's day") }
            guard seen.insert(step.action).inserted else { throw Refusal(field: field, rule: "may appear once") }
            if step.action == .notice && step.day != 0 { throw Refusal(field: field, rule: "is the payment-failed message, sent at day 0") }
            previous = step.day
        }
        return DunningPolicy(steps: steps)
    }

    var blockDay: Int? { steps.first { $0.action == .block }?.day }
}

/// A provider invoice whose payment failed and that is not paid yet.
struct UnpaidInvoice: Codable, Sendable, Equatable {
    var provider: WebhookProvider
    var invoiceID: String
    var number: String?
    var amount: Money
    /// When its payment first failed: dunning days count from here.
    var failedAt: Date

    enum CodingKeys: String, CodingKey {
        case provider, invoiceID = "invoice_id", number, amount, failedAt = "failed_at"
    }
}

/// What the dunning job does with a due step.
enum StepDisposition: String, Codable, Sendable, Equatable {
    /// Its message is requested (and for `block`, the entitlement blocked).
    case send = "sent"
    /// A later message step is also due (the job was down, or the policy changed): this one is
    /// recorded and never sent, so a customer never gets a burst of stale reminders.
    case skip = "skipped"
}

/// The overdue state machine of one subscription, counted from its oldest unpaid invoice.
enum DunningRules {
    /// Whole days from `since` to `now` (0 on the day of failure).
    static func days(since: Date, now: Date) -> Int {
        max(0, Int((now.timeIntervalSince(since) / 86_400).rounded(.down)))
    }

    /// The invoice whose age drives the steps: the oldest unpaid one.
    static func oldest(_ unpaid: [UnpaidInvoice]) -> UnpaidInvoice? {
        unpaid.min { ($0.failedAt, $0.invoiceID) < ($1.failedAt, $1.invoiceID) }
    }

    /// The steps due now for `invoice` that are not in `done`, in policy order. Of the due
    /// message steps only the latest is sent; `block` is always applied.
    static func due(policy: DunningPolicy, invoice: UnpaidInvoice, done: Set<DunningAction>, now: Date) -> [(step: DunningStep, disposition: StepDisposition)] {
        let age = days(since: invoice.failedAt, now: now)
        let due = policy.steps.filter { $0.day <= age && !done.contains($0.action) }
        let lastMessage = due.last { $0.action != .block }
        return due.map { step in
            (step, step.action == .block || step == lastMessage ? .send : .skip)
        }
    }

    /// Whether the subscription should stay blocked with these unpaid invoices.
    static func shouldBlock(policy: DunningPolicy, unpaid: [UnpaidInvoice], now: Date) -> Bool {
        guard let blockDay = policy.blockDay, let oldest = oldest(unpaid) else { return false }
        return days(since: oldest.failedAt, now: now) >= blockDay
    }

    /// The step after the ones done, and when it is due.
    static func next(policy: DunningPolicy, invoice: UnpaidInvoice, done: Set<DunningAction>) -> (step: DunningStep, at: Date)? {
        guard let step = policy.steps.first(where: { !done.contains($0.action) }) else { return nil }
        return (step, invoice.failedAt.addingTimeInterval(Double(step.day) * 86_400))
    }

    /// The dedupe key of a step's message: the notice is the invoice's payment-failed message.
    static func dedupeKey(invoiceID: String, action: DunningAction) -> String {
        action == .notice ? "invoice:\(invoiceID):dunning:payment_failed" : "dunning:\(invoiceID):\(action.rawValue)"
    }
}
