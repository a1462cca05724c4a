import Contracts
import Foundation

/// The three legs money travels: sold → captured → paid out → deposited.
enum Leg: String, Sendable, Codable, CaseIterable {
    case orderPayment = "order_payment"
    case paymentPayout = "payment_payout"
    case payoutBank = "payout_bank"
    /// A payment's refunds and disputes against what it captured.
    case refunds
}

/// Why a check did not match. Stable strings: the topic, the API and alerts use them.
enum MismatchReason: String, Sendable, Codable, CaseIterable {
    case orderPaidNoPayment = "order_paid_no_payment"
    case paymentWithoutOrder = "payment_without_order"
    case amountMismatch = "amount_mismatch"
    case currencyMismatch = "currency_mismatch"
    case duplicatePayment = "duplicate_payment"
    case refundExceedsPayment = "refund_exceeds_payment"
    case refundWithoutPayment = "refund_without_payment"
    case paymentNotPaidOut = "payment_not_paid_out"
    case payoutPaymentUnknown = "payout_payment_unknown"
    case payoutWithoutBankLine = "payout_without_bank_line"
    case bankLineUnmatched = "bank_line_unmatched"
}

/// Where a check stands.
enum MatchStatus: Equatable, Sendable {
    case matched
    /// The counterpart is not due yet; after `until` the check becomes mismatched.
    case expected(until: Date)
    case mismatched(MismatchReason)

    var name: String {
        switch self {
        case .matched: "matched"
        case .expected: "expected"
        case .mismatched: "mismatched"
        }
    }
}

/// One leg of one item: what it was matched with and how that went.
struct Check: Equatable, Sendable {
    var leg: Leg
    var subject: ItemRef
    /// What the subject was matched (or compared) with, sorted.
    var counterparts: [ItemRef]
    var status: MatchStatus
    /// The amount the subject says (e.g. the order's total), and what its counterparts add up to.
    var expected: Money?
    var actual: Money?
    /// The order this check belongs to, when one is known: the trail and analytics group by it.
    var orderID: String?
    /// The subject's business day (an order's placing, a payment's capture, a payout's arrival,
    /// a line's booking, a payment's first refund): what the daily summary groups by.
    var day: BankDay

    /// Unique per org: `order_payment:order:ord_1`.
    var key: String { "\(leg.rawValue):\(subject)" }
}

/// The explicit settings matching uses. Everything defaults to exact: no tolerance.
struct MatchingSettings: Equatable, Sendable {
    /// How far two amounts may differ and still match, per currency, in minor units (e.g. FX
    /// rounding). Zero when a currency is not listed.
    var tolerances: [CurrencyCode: Int64] = [:]
    /// How long after an order is placed (or a payment captured) its counterpart may arrive.
    var paymentWindow: TimeInterval = 3_600
    /// Days after capture a payment may wait for its payout.
    var payoutWindowDays: Int = 7
    /// Days after a payout's arrival its bank line may be booked, for accounts without their own.
    var settlementWindowDays: Int = 3

    static let exact = MatchingSettings()

    func tolerance(_ currency: CurrencyCode) -> Int64 { tolerances[currency] ?? 0 }

    func agree(_ a: Int64, _ b: Int64, in currency: CurrencyCode) -> Bool { abs(a - b) <= tolerance(currency) }
}

/// Matching: given the facts of connected items, every check of every item among them.
///
/// Guarantees:
/// - Pure and deterministic: the same facts and `now` give the same checks, whatever order the
///   facts arrived in (ties are broken by ids, never by arrival).
/// - Every item has the same checks whatever else is known: an order has `order_payment`; a
///   payment has `order_payment`, `payment_payout` and, once money went back, `refunds`; a payout
///   has `payment_payout` and `payout_bank`; a bank credit has `payout_bank`. A check changes
///   status; it never disappears.
/// - Amounts are compared once, on the side that states the expectation (the order's total, the
///   payout's amount); the counterpart's check says it found its match.
enum Matcher {
    static func checks(_ facts: ReconciliationFacts, settings: MatchingSettings, now: Date) -> [Check] {
        var checks: [Check] = []
        let links = OrderLinks(facts)
        let paidOut = PayoutAssignment(facts, settings: settings)
        let deposits = DepositAssignment(facts, settings: settings)

        for order in facts.orders.values.sorted(by: { $0.orderID < $1.orderID }) {
            checks.append(orderCheck(order, payments: links.payments(of: order), settings: settings, now: now))
        }
        for payment in facts.payments.values.sorted(by: { $0.paymentID < $1.paymentID }) {
            let order = links.order(of: payment)
            checks.append(paymentOrderCheck(payment, order: order, settings: settings, now: now))
            checks.append(paymentPayoutCheck(payment, payout: paidOut.payout(of: payment.paymentID), orderID: order?.orderID, settings: settings, now: now))
        }
        for (paymentID, adjustments) in facts.adjustments.sorted(by: { $0.key < $1.key }) where !adjustments.isEmpty {
            let payment = facts.payments[paymentID]
            checks.append(
                refundCheck(paymentID, payment: payment, adjustments: adjustments, orderID: payment.flatMap { links.order(of: $0)?.orderID }, settings: settings, now: now))
        }
        for payout in facts.payouts.values.sorted(by: { $0.payoutID < $1.payoutID }) {
            let payments = paidOut.payments(of: payout.payoutID)
            let orderID = payments.compactMap { facts.payments[$0].flatMap { links.order(of: $0)?.orderID } }.min()
            checks.append(payoutPaymentsCheck(payout, assigned: payments, known: facts.payments, orderID: orderID, settings: settings, now: now))
            checks.append(payoutBankCheck(payout, lines: deposits.lines(of: payout.payoutID), facts: facts, orderID: orderID, settings: settings, now: now))
        }
        for (ref, line) in facts.bankLines.sorted(by: { $0.key < $1.key }) where line.amount.amountMinor > 0 {
            let payouts = deposits.payouts(of: ref)
            let window = facts.accounts[line.accountID]?.settlementWindowDays ?? settings.settlementWindowDays
            let status: MatchStatus =
                payouts.isEmpty ? pending(until: line.booked.adding(days: window + 1).start, now: now, else: .bankLineUnmatched) : .matched
            checks.append(
                Check(leg: .payoutBank, subject: ref, counterparts: payouts.map(ItemRef.payout).sorted(), status: status, expected: line.amount, actual: nil, day: line.booked))
        }
        return checks
    }

    /// `expected` while `until` is ahead, then mismatched for `reason`.
    static func pending(until: Date, now: Date, else reason: MismatchReason) -> MatchStatus {
        now < until ? .expected(until: until) : .mismatched(reason)
    }

    static func orderCheck(_ order: ExpectedOrder, payments: [CapturedPayment], settings: MatchingSettings, now: Date) -> Check {
        let currency = order.total.currency
        let sameCurrency = payments.allSatisfy { $0.amount.currency == currency }
        let paid = sameCurrency ? Money(amountMinor: payments.reduce(0) { $0 + $1.amount.amountMinor }, currency: currency) : payments.first?.amount
        let status: MatchStatus
        if payments.isEmpty {
            status = pending(until: order.placedAt.addingTimeInterval(settings.paymentWindow), now: now, else: .orderPaidNoPayment)
        } else if !sameCurrency {
            status = .mismatched(.currencyMismatch)
        } else if payments.count > 1 {
            status = .mismatched(.duplicatePayment)
        } else if !settings.agree(order.total.amountMinor, paid?.amountMinor ?? 0, in: currency) {
            status = .mismatched(.amountMismatch)
        } else {
            status = .matched
        }
        return Check(
            leg: .orderPayment, subject: .order(order.orderID), counterparts: payments.map { .payment($0.paymentID) }.sorted(), status: status,
            expected: order.total, actual: payments.isEmpty ? nil : paid, orderID: order.orderID, day: BankDay(order.placedAt))
    }

    static func paymentOrderCheck(_ payment: CapturedPayment, order: ExpectedOrder?, settings: MatchingSettings, now: Date) -> Check {
        let status: MatchStatus
        if order != nil || payment.billsAnInvoice {
            status = .matched
        } else {
            status = pending(until: payment.capturedAt.addingTimeInterval(settings.paymentWindow), now: now, else: .paymentWithoutOrder)
        }
        return Check(
            leg: .orderPayment, subject: .payment(payment.paymentID), counterparts: order.map { [.order($0.orderID)] } ?? [], status: status,
            expected: payment.amount, actual: order?.total, orderID: order?.orderID, day: BankDay(payment.capturedAt))
    }

    static func paymentPayoutCheck(_ payment: CapturedPayment, payout: String?, orderID: String?, settings: MatchingSettings, now: Date) -> Check {
        let status: MatchStatus =
            payout != nil
            ? .matched
            : pending(until: BankDay(payment.capturedAt).adding(days: settings.payoutWindowDays + 1).start, now: now, else: .paymentNotPaidOut)
        return Check(
            leg: .paymentPayout, subject: .payment(payment.paymentID), counterparts: payout.map { [.payout($0)] } ?? [], status: status,
            expected: Money(amountMinor: payment.net, currency: payment.amount.currency), actual: nil, orderID: orderID, day: BankDay(payment.capturedAt))
    }

    static func refundCheck(
        _ paymentID: String, payment: CapturedPayment?, adjustments: [PaymentAdjustment], orderID: String?, settings: MatchingSettings, now: Date
    ) -> Check {
        let currency = payment?.amount.currency ?? adjustments[0].amount.currency
        let returned = adjustments.filter { $0.amount.currency == currency }.reduce(Int64(0)) { $0 + $1.amount.amountMinor }
        let status: MatchStatus
        if let payment {
            if adjustments.contains(where: { $0.amount.currency != currency }) {
                status = .mismatched(.currencyMismatch)
            } else if returned > payment.amount.amountMinor + settings.tolerance(currency) {
                status = .mismatched(.refundExceedsPayment)
            } else {
                status = .matched
            }
        } else {
            let first = adjustments.map(\.occurredAt).min() ?? now
            status = pending(until: first.addingTimeInterval(settings.paymentWindow), now: now, else: .refundWithoutPayment)
        }
        return Check(
            leg: .refunds, subject: .payment(paymentID), counterparts: [], status: status, expected: payment?.amount,
            actual: Money(amountMinor: returned, currency: currency), orderID: orderID, day: BankDay(adjustments.map(\.occurredAt).min() ?? now))
    }

    static func payoutPaymentsCheck(
        _ payout: ProviderPayout, assigned: [String], known: [String: CapturedPayment], orderID: String?, settings: MatchingSettings, now: Date
    ) -> Check {
        let status: MatchStatus
        let until = payout.arrival.adding(days: 1).start.addingTimeInterval(settings.paymentWindow)
        if payout.paymentRefs.isEmpty {
            status = assigned.isEmpty ? pending(until: until, now: now, else: .payoutPaymentUnknown) : .matched
        } else if payout.paymentRefs.contains(where: { known[$0] == nil }) {
            status = pending(until: until, now: now, else: .payoutPaymentUnknown)
        } else {
            status = .matched
        }
        let net = assigned.compactMap { known[$0] }.filter { $0.amount.currency == payout.amount.currency }.reduce(Int64(0)) { $0 + $1.net }
        return Check(
            leg: .paymentPayout, subject: .payout(payout.payoutID), counterparts: assigned.map(ItemRef.payment).sorted(), status: status,
            expected: payout.amount, actual: assigned.isEmpty ? nil : Money(amountMinor: net, currency: payout.amount.currency), orderID: orderID,
            day: payout.arrival)
    }

    static func payoutBankCheck(
        _ payout: ProviderPayout, lines: [ItemRef], facts: ReconciliationFacts, orderID: String?, settings: MatchingSettings, now: Date
    ) -> Check {
        let found = lines.compactMap { facts.bankLines[$0] }
        let currency = payout.amount.currency
        let status: MatchStatus
        let deposited: Money?
        if found.isEmpty {
            let window = facts.accounts.values.filter { $0.currency == currency }.map(\.settlementWindowDays).max() ?? settings.settlementWindowDays
            status = pending(until: payout.arrival.adding(days: window + 1).start, now: now, else: .payoutWithoutBankLine)
            deposited = nil
        } else if found.contains(where: { $0.amount.currency != currency }) {
            status = .mismatched(.currencyMismatch)
            deposited = found[0].amount
        } else {
            // A line may deposit several payouts: compare the line with every payout it names.
            let lineTotal = found.reduce(Int64(0)) { $0 + $1.amount.amountMinor }
            let sharing = Set(lines.flatMap { DepositAssignment.payoutsNamed(by: facts.bankLines[$0], in: facts) }).union([payout.payoutID])
            let payoutTotal = sharing.compactMap { facts.payouts[$0] }.filter { $0.amount.currency == currency }.reduce(Int64(0)) { $0 + $1.amount.amountMinor }
            deposited = Money(amountMinor: lineTotal, currency: currency)
            status = settings.agree(lineTotal, payoutTotal, in: currency) ? .matched : .mismatched(.amountMismatch)
        }
        return Check(
            leg: .payoutBank, subject: .payout(payout.payoutID), counterparts: lines.sorted(), status: status, expected: payout.amount, actual: deposited,
            orderID: orderID, day: payout.arrival)
    }
}

/// Which payments belong to which order: the order's `payment_ref`, or the payment's `order_ref`.
struct OrderLinks {
    private var paymentsByOrder: [String: [CapturedPayment]] = [:]
    private var orderByPayment: [String: ExpectedOrder] = [:]

    init(_ facts: ReconciliationFacts) {
        for payment in facts.payments.values.sorted(by: { $0.paymentID < $1.paymentID }) {
            // The order the payment names wins; otherwise the first order (by id) naming the payment.
            let order =
                payment.orderRef.flatMap { facts.orders[$0] }
                ?? facts.orders.values.filter { $0.paymentRef == payment.paymentID }.min(by: { $0.orderID < $1.orderID })
            guard let order else { continue }
            orderByPayment[payment.paymentID] = order
            paymentsByOrder[order.orderID, default: []].append(payment)
        }
    }

    func payments(of order: ExpectedOrder) -> [CapturedPayment] { paymentsByOrder[order.orderID] ?? [] }
    func order(of payment: CapturedPayment) -> ExpectedOrder? { orderByPayment[payment.paymentID] }
}

/// Which payments each payout paid out.
///
/// A payout that lists its payments gets exactly those (many-to-one). One that does not
/// (Stripe's automatic payouts) is matched by amount and date, one-to-one, and only when the
/// match is unambiguous both ways: exactly one unlisted payment of the same provider and
/// currency, captured within the payout window up to its arrival day, has a net equal to the
/// payout (within tolerance), and that payment fits no other unlisted payout. Ambiguity is left
/// for a person rather than guessed, and the answer depends only on facts near the payout, never
/// on the order they arrived in.
struct PayoutAssignment {
    private var paymentsByPayout: [String: [String]] = [:]
    private var payoutByPayment: [String: String] = [:]

    init(_ facts: ReconciliationFacts, settings: MatchingSettings) {
        let ordered = facts.payouts.values.sorted { ($0.arrival, $0.payoutID) < ($1.arrival, $1.payoutID) }
        for payout in ordered where !payout.paymentRefs.isEmpty {
            let listed = payout.paymentRefs.filter { payoutByPayment[$0] == nil }.sorted()
            paymentsByPayout[payout.payoutID] = listed
            for id in listed { payoutByPayment[id] = payout.payoutID }
        }
        let unlisted = ordered.filter { $0.paymentRefs.isEmpty }
        let candidates = Dictionary(uniqueKeysWithValues: unlisted.map { ($0.payoutID, Self.candidates(for: $0, in: facts, settings: settings)) })
        var fits: [String: [String]] = [:]
        for (payoutID, payments) in candidates { for payment in payments { fits[payment, default: []].append(payoutID) } }
        for payout in unlisted {
            guard let only = candidates[payout.payoutID], only.count == 1, fits[only[0]] == [payout.payoutID] else { continue }
            paymentsByPayout[payout.payoutID] = only
            payoutByPayment[only[0]] = payout.payoutID
        }
    }

    /// The unlisted payments an unlisted payout may have paid out, by id.
    static func candidates(for payout: ProviderPayout, in facts: ReconciliationFacts, settings: MatchingSettings) -> [String] {
        let earliest = payout.arrival.adding(days: -settings.payoutWindowDays)
        let listed = Set(facts.payouts.values.flatMap(\.paymentRefs))
        return facts.payments.values
            .filter {
                $0.provider == payout.provider && $0.amount.currency == payout.amount.currency && !listed.contains($0.paymentID)
                    && settings.agree($0.net, payout.amount.amountMinor, in: payout.amount.currency)
                    && BankDay($0.capturedAt) <= payout.arrival && BankDay($0.capturedAt) >= earliest
            }
            .map(\.paymentID).sorted()
    }

    func payments(of payoutID: String) -> [String] { paymentsByPayout[payoutID] ?? [] }
    func payout(of paymentID: String) -> String? { payoutByPayment[paymentID] }
}

/// Which bank lines deposited which payouts.
///
/// A credit line whose text names payouts (whole words, case-insensitive) deposits those
/// payouts: one line may deposit several. A payout no line names is matched to a credit line
/// that names no known payout, in the same currency, for the same amount (within tolerance),
/// booked from its arrival day to the end of the account's settlement window, when that pairing
/// is unambiguous both ways.
struct DepositAssignment {
    private var linesByPayout: [String: [ItemRef]] = [:]
    private var payoutsByLine: [ItemRef: [String]] = [:]

    init(_ facts: ReconciliationFacts, settings: MatchingSettings) {
        let credits = facts.bankLines.filter { $0.value.amount.amountMinor > 0 }
        for (ref, line) in credits.sorted(by: { $0.key < $1.key }) {
            for payoutID in Self.payoutsNamed(by: line, in: facts) {
                linesByPayout[payoutID, default: []].append(ref)
                payoutsByLine[ref, default: []].append(payoutID)
            }
        }
        let unnamedLines = credits.filter { payoutsByLine[$0.key] == nil }
        let unnamedPayouts = facts.payouts.values.filter { linesByPayout[$0.payoutID] == nil }
        var candidates: [String: [ItemRef]] = [:]
        var fits: [ItemRef: [String]] = [:]
        for payout in unnamedPayouts {
            let lines = unnamedLines.filter { _, line in
                let window = facts.accounts[line.accountID]?.settlementWindowDays ?? settings.settlementWindowDays
                return line.amount.currency == payout.amount.currency && settings.agree(line.amount.amountMinor, payout.amount.amountMinor, in: line.amount.currency)
                    && line.booked >= payout.arrival && line.booked <= payout.arrival.adding(days: window)
            }.map(\.key)
            candidates[payout.payoutID] = lines
            for line in lines { fits[line, default: []].append(payout.payoutID) }
        }
        for (payoutID, lines) in candidates where lines.count == 1 && fits[lines[0]] == [payoutID] {
            linesByPayout[payoutID] = lines
            payoutsByLine[lines[0]] = [payoutID]
        }
    }

    /// The known payouts a line's text names, sorted.
    static func payoutsNamed(by line: BankLine?, in facts: ReconciliationFacts) -> [String] {
        guard let line else { return [] }
        let tokens = line.tokens
        return facts.payouts.keys.filter { tokens.contains($0.lowercased()) }.sorted()
    }

    func lines(of payoutID: String) -> [ItemRef] { linesByPayout[payoutID] ?? [] }
    func payouts(of line: ItemRef) -> [String] { payoutsByLine[line] ?? [] }
}
