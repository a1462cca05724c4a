import Contracts
import Foundation

/// Where an installment stands: `open` until a matching payment or a person's "mark paid"
/// settles it (`paid`), or a renegotiation replaces it (`renegotiated`, kept, never deleted).
enum InstallmentStatus: String, Codable, Sendable, CaseIterable {
    case open, paid, renegotiated
}

/// Where a plan stands: `active` while any installment is open, `completed` once all are paid,
/// `renegotiated` once a new plan replaced its open installments.
enum PlanStatus: String, Codable, Sendable, CaseIterable {
    case active, completed, renegotiated
}

/// Which installment takes what does not divide evenly.
enum RemainderPlacement: String, Codable, Sendable, CaseIterable {
    case first, last
}

/// One scheduled payment of a plan: a UTC day and an amount. `reference` is what the customer
/// quotes when paying (a payment whose order reference or id equals it settles it).
struct Installment: Hashable, Sendable {
    var number: Int
    var dueOn: Date
    var amountMinor: Int64
    var reference: String
    var status: InstallmentStatus
    var paidAt: Date?
    var paidBy: String?
    var payment: PaymentKey?
    var note: String?
}

/// A payment plan for an invoice (its outstanding amount) or for a customer (an amount owed
/// outside any invoice). Its installments always add up to its total.
struct PaymentPlan: Hashable, Sendable {
    var id: String
    var invoiceID: String?
    var customerRef: String?
    var customerProvider: WebhookProvider
    var currency: CurrencyCode
    var totalMinor: Int64
    var status: PlanStatus
    var replacesPlanID: String?
    var reason: String?
    var createdAt: Date
    var createdBy: String
    var installments: [Installment]

    var openMinor: Int64 { installments.filter { $0.status == .open }.reduce(0) { $0 + $1.amountMinor } }
}

/// A schedule asked for: explicit installments, or `count` equal ones every `intervalDays` from
/// `firstDue` with the remainder on the first or the last.
enum ScheduleRequest: Sendable {
    case even(count: Int, firstDue: Date, intervalDays: Int, remainder: RemainderPlacement)
    case explicit([(dueOn: Date, amountMinor: Int64)])
}

/// Why a schedule or a plan change is refused.
enum PlanRefusal: Error, Equatable, CustomStringConvertible {
    case count(Int)
    case interval(Int)
    case tooSmall(totalMinor: Int64, count: Int)
    case amount(installment: Int)
    case mustCover(expectedMinor: Int64, offeredMinor: Int64)
    case nothingOpen
    case notActive(PlanStatus)
    case notOpen(number: Int, status: InstallmentStatus)

    var description: String {
        switch self {
        case .count(let count): "a plan has 1 to 120 installments, not \(count)"
        case .interval(let days): "installments are 1 to 366 days apart, not \(days)"
        case .tooSmall(let total, let count): "\(total) minor units cannot be split into \(count) installments of at least 1"
        case .amount(let number): "installment \(number): the amount must be greater than 0"
        case .mustCover(let expected, let offered): "the schedule must add up to exactly \(expected) minor units; it adds up to \(offered)"
        case .nothingOpen: "the plan has no open installment to renegotiate"
        case .notActive(let status): "the plan is \(status.rawValue), not active"
        case .notOpen(let number, let status): "installment \(number) is \(status.rawValue), not open"
        }
    }
}

/// The plan rules, pure: schedules that add up exactly, renegotiation of what is still open,
/// and the overdue reminders' steps.
enum PlanRules {
    /// The reminder steps: a reminder goes out once the installment is more than this many days
    /// late, once per step (the latest step reached; the earlier ones are not sent late).
    static let reminderDays = [3, 7, 14, 30]

    /// The installments of `request` for `totalMinor`, numbered from 1, referenced `<plan>-<n>`.
    /// Even ones divide the total and put what remains (less than `count` minor units) on the first
    /// or the last; explicit ones must add up to the total exactly, each above 0, and are numbered
    /// in due order.
    static func schedule(_ request: ScheduleRequest, totalMinor: Int64, planID: String) throws(PlanRefusal) -> [Installment] {
        let items: [(dueOn: Date, amountMinor: Int64)]
        switch request {
        case .even(let count, let firstDue, let intervalDays, let remainder):
            guard (1...120).contains(count) else { throw .count(count) }
            guard (1...366).contains(intervalDays) else { throw .interval(intervalDays) }
            guard totalMinor >= Int64(count) else { throw .tooSmall(totalMinor: totalMinor, count: count) }
            let base = totalMinor / Int64(count)
            let rest = totalMinor - base * Int64(count)
            items = (0..<count).map { index in
                let extra = (remainder == .first && index == 0) || (remainder == .last && index == count - 1) ? rest : 0
                return (firstDue.addingTimeInterval(Double(index * intervalDays) * 86_400), base + extra)
            }
        case .explicit(let given):
            guard (1...120).contains(given.count) else { throw .count(given.count) }
            // Numbered in due order, whatever order they were given in (equal days keep theirs).
            items = given.enumerated().sorted { ($0.element.dueOn, $0.offset) < ($1.element.dueOn, $1.offset) }.map(\.element)
        }
        for (index, item) in items.enumerated() where item.amountMinor <= 0 { throw .amount(installment: index + 1) }
        var sum: Int64 = 0
        for item in items {
            let (added, overflow) = sum.addingReportingOverflow(item.amountMinor)
            guard !overflow else { throw .mustCover(expectedMinor: totalMinor, offeredMinor: Int64.max) }
            sum = added
        }
        guard sum == totalMinor else { throw .mustCover(expectedMinor: totalMinor, offeredMinor: sum) }
        return items.enumerated().map { index, item in
            Installment(
                number: index + 1, dueOn: item.dueOn, amountMinor: item.amountMinor, reference: "\(planID)-\(index + 1)", status: .open, paidAt: nil, paidBy: nil,
                payment: nil, note: nil)
        }
    }

    /// The renegotiation of `plan`: its open installments become `renegotiated` and a new plan of
    /// the same invoice or customer, whose schedule covers exactly what was open, replaces it.
    static func renegotiate(
        _ plan: PaymentPlan, schedule request: ScheduleRequest, newPlanID: String, reason: String, by actor: String, now: Date
    ) throws(PlanRefusal) -> (old: PaymentPlan, new: PaymentPlan) {
        guard plan.status == .active else { throw .notActive(plan.status) }
        let open = plan.openMinor
        guard open > 0 else { throw .nothingOpen }
        let installments = try schedule(request, totalMinor: open, planID: newPlanID)
        var old = plan
        old.status = .renegotiated
        old.installments = plan.installments.map { installment in
            var changed = installment
            if changed.status == .open { changed.status = .renegotiated }
            return changed
        }
        let new = PaymentPlan(
            id: newPlanID, invoiceID: plan.invoiceID, customerRef: plan.customerRef, customerProvider: plan.customerProvider, currency: plan.currency,
            totalMinor: open, status: .active, replacesPlanID: plan.id, reason: reason, createdAt: now, createdBy: actor, installments: installments)
        return (old, new)
    }

    /// `plan` with installment `number` paid (by a payment or a person), completed when none is open.
    static func markPaid(_ plan: PaymentPlan, number: Int, payment: PaymentKey?, by actor: String?, note: String?, at time: Date) throws(PlanRefusal) -> PaymentPlan {
        guard let index = plan.installments.firstIndex(where: { $0.number == number }) else { throw .notOpen(number: number, status: .renegotiated) }
        let installment = plan.installments[index]
        guard installment.status == .open else { throw .notOpen(number: number, status: installment.status) }
        var changed = plan
        changed.installments[index].status = .paid
        changed.installments[index].paidAt = time
        changed.installments[index].paidBy = actor
        changed.installments[index].payment = payment
        changed.installments[index].note = note
        if changed.status == .active, !changed.installments.contains(where: { $0.status == .open }) { changed.status = .completed }
        return changed
    }

    /// Whole UTC days from `dueOn` to `now` (negative before it is due).
    static func daysLate(dueOn: Date, now: Date) -> Int {
        Int(((now.timeIntervalSince1970 - dueOn.timeIntervalSince1970) / 86_400).rounded(.down))
    }

    /// The reminder step due for an installment `daysLate` days late, if any.
    static func reminderStep(daysLate: Int) -> Int? {
        reminderDays.last { daysLate > $0 }
    }
}

/// The receivables report (seed: "Priority Collection List"): what is owed, aged, and who to call first.
struct ReceivablesReport: Hashable, Sendable {
    /// Something owed: an invoice's outstanding amount by its due date, or an open installment.
    struct Item: Hashable, Sendable {
        var customerRef: String?
        var currency: CurrencyCode
        var amountMinor: Int64
        var dueAt: Date
        var isInstallment: Bool
    }

    enum Bucket: String, CaseIterable, Sendable {
        case current, days1to30 = "1_30", days31to60 = "31_60", days61to90 = "61_90", days90plus = "90_plus"

        static func of(daysLate: Int) -> Bucket {
            switch daysLate {
            case ...0: .current
            case 1...30: .days1to30
            case 31...60: .days31to60
            case 61...90: .days61to90
            default: .days90plus
            }
        }
    }

    struct Aging: Hashable, Sendable {
        var currency: CurrencyCode
        var byBucket: [Bucket: Int64]
        var totalMinor: Int64
    }

    struct Priority: Hashable, Sendable {
        var customerRef: String
        var currency: CurrencyCode
        var owedMinor: Int64
        var daysOverdue: Int
        /// `owed × days overdue`: the ranking.
        var score: Int64
        var items: Int
    }

    var aging: [Aging]
    var priority: [Priority]

    init(items: [Item], now: Date) {
        var aging: [CurrencyCode: Aging] = [:]
        var overdue: [String: Priority] = [:]
        for item in items {
            let days = PlanRules.daysLate(dueOn: item.dueAt, now: now)
            var row = aging[item.currency] ?? Aging(currency: item.currency, byBucket: [:], totalMinor: 0)
            row.byBucket[Bucket.of(daysLate: days)] = Self.add(row.byBucket[Bucket.of(daysLate: days)] ?? 0, item.amountMinor)
            row.totalMinor = Self.add(row.totalMinor, item.amountMinor)
            aging[item.currency] = row
            guard days > 0, let customer = item.customerRef else { continue }
            let key = "\(customer)\n\(item.currency.rawValue)"
            var entry = overdue[key] ?? Priority(customerRef: customer, currency: item.currency, owedMinor: 0, daysOverdue: 0, score: 0, items: 0)
            entry.owedMinor = Self.add(entry.owedMinor, item.amountMinor)
            entry.daysOverdue = max(entry.daysOverdue, days)
            entry.items += 1
            overdue[key] = entry
        }
        self.aging = aging.values.sorted { $0.currency.rawValue < $1.currency.rawValue }
        self.priority = overdue.values.map { entry in
            var scored = entry
            let (score, overflow) = entry.owedMinor.multipliedReportingOverflow(by: Int64(entry.daysOverdue))
            scored.score = overflow ? Int64.max : score
            return scored
        }.sorted { ($0.score, $1.customerRef) > ($1.score, $0.customerRef) }
    }

    /// A sum that stops at `Int64.max` instead of trapping (a report, not the books).
    private static func add(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int64.max : sum
    }
}
