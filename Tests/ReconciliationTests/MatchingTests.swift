import Contracts
import Foundation
import PropertyBased
import Testing

@testable import Reconciliation

/// One org's month in miniature: every leg matched somewhere, and every mismatch kind once.
enum Scenario {
    static let usd = CurrencyCode(rawValue: "USD")!
    static let eur = CurrencyCode(rawValue: "EUR")!
    /// 2026-11-20, midnight UTC.
    static let day = BankDay("2026-11-20")!
    static let morning = day.start.addingTimeInterval(9 * 3_600)
    /// Two weeks later: every window has passed.
    static let later = day.adding(days: 14).start

    static func usd(_ minor: Int64) -> Money { Money(amountMinor: minor, currency: usd) }

    static func order(_ id: String, _ minor: Int64, paying payment: String? = nil) -> ExpectedOrder {
        ExpectedOrder(orderID: id, total: usd(minor), paymentRef: payment, placedAt: morning, sourceEventID: "evt_\(id)")
    }

    static func payment(
        _ id: String, _ minor: Int64, fee: Int64 = 0, order: String? = nil, invoice: String? = nil, provider: WebhookProvider = .stripe
    )
        -> CapturedPayment
    {
        CapturedPayment(
            provider: provider, paymentID: id, amount: usd(minor), fee: fee == 0 ? nil : usd(fee), orderRef: order, invoiceRef: invoice, subscriptionRef: nil,
            capturedAt: morning.addingTimeInterval(60), sourceEventID: "evt_\(id)")
    }

    static func payout(_ id: String, _ minor: Int64, arrivalIn days: Int = 1, listing: [String] = []) -> ProviderPayout {
        ProviderPayout(provider: .stripe, payoutID: id, amount: usd(minor), fees: nil, arrival: day.adding(days: days), paymentRefs: listing, sourceEventID: "evt_\(id)")
    }

    static func line(_ reference: String, _ minor: Int64, _ text: String, bookedIn days: Int = 2, account: String = "acc_main") -> BankLine {
        BankLine(accountID: account, bankReference: reference, statementID: "st_1", booked: day.adding(days: days), amount: usd(minor), text: text)
    }

    static func refund(_ id: String, of payment: String, _ minor: Int64) -> PaymentAdjustment {
        PaymentAdjustment(kind: .refund, adjustmentID: id, paymentID: payment, amount: usd(minor), occurredAt: morning.addingTimeInterval(7_200), sourceEventID: "evt_\(id)")
    }

    static let account = BankAccount(accountID: "acc_main", currency: usd, settlementWindowDays: 3)

    /// A fact as it arrives: from an event or a statement upload.
    enum Arrival: Sendable, CustomStringConvertible {
        case order(ExpectedOrder)
        case payment(CapturedPayment)
        case adjustment(PaymentAdjustment)
        case payout(ProviderPayout)
        case line(BankLine)

        var description: String {
            switch self {
            case .order(let o): "order \(o.orderID)"
            case .payment(let p): "payment \(p.paymentID)"
            case .adjustment(let a): "refund \(a.adjustmentID)"
            case .payout(let p): "payout \(p.payoutID)"
            case .line(let l): "line \(l.bankReference)"
            }
        }
    }

    static let arrivals: [Arrival] = [
        // Everything matches: order → payment (net 4800) → unlisted payout by amount → line naming it.
        .order(order("ord_1", 4900, paying: "pi_1")), .payment(payment("pi_1", 4900, fee: 100)), .payout(payout("po_1", 4800)),
        .line(line("B1", 4800, "STRIPE PAYOUT po_1 transfer")),
        // Off by a cent.
        .order(order("ord_2", 1000, paying: "pi_2")), .payment(payment("pi_2", 999)),
        // Paid order, no payment ever.
        .order(order("ord_3", 2500, paying: "pi_3")),
        // One payout listing two payments, deposited by a line found by amount and date.
        .order(order("ord_4", 2000)), .payment(payment("pi_4", 2000, fee: 50, order: "ord_4")), .payout(payout("po_2", 2949, listing: ["pi_2", "pi_4"])),
        .line(line("B2", 2949, "SEPA CREDIT 88123")),
        // A payout no bank line shows.
        .payout(payout("po_3", 700, listing: ["pi_5"])), .payment(payment("pi_5", 700, invoice: "in_5")),
        // A deposit nobody expects.
        .line(line("B3", 12_345, "UNKNOWN DEPOSIT")),
        // More refunded than captured; a refund of a payment never seen.
        .adjustment(refund("re_1", of: "pi_1", 5000)), .adjustment(refund("re_2", of: "pi_9", 100)),
        // One line depositing two payouts.
        .order(order("ord_6", 1000, paying: "pi_6")), .payment(payment("pi_6", 1000)), .order(order("ord_7", 2000, paying: "pi_7")),
        .payment(payment("pi_7", 2000)), .payout(payout("po_4", 1000, listing: ["pi_6"])), .payout(payout("po_5", 2000, listing: ["pi_7"])),
        .line(line("B4", 3000, "Payouts PO_4, po_5")),
        // Ambiguous: two payments fit one unlisted payout, so neither is guessed.
        .payment(payment("pi_8", 500, invoice: "in_8")), .payment(payment("pi_10", 500, invoice: "in_10")), .payout(payout("po_6", 500, arrivalIn: 2)),
        .line(line("B6", 500, "po_6")),
        // Two payments for one order.
        .order(order("ord_11", 300)), .payment(payment("pi_11a", 300, order: "ord_11")), .payment(payment("pi_11b", 300, order: "ord_11")),
        // A payment for no order, never paid out.
        .payment(payment("pi_12", 800)),
    ]

    /// Records one arrival and re-checks around it, as the handlers and the upload do.
    static func apply(_ arrival: Arrival, to store: InMemoryReconciliationStore, now: Date) async throws {
        let seed = try await record(arrival, in: store) { store.record($0) }
        _ = try await MatchingPass(tenant: TenantID(rawValue: "org_acme")!, now: now, correlationID: "corr", causationID: nil).run(around: [seed], store: store)
    }

    /// Records one arrival in `store` (bank lines through `lines`); returns the item to re-check around.
    static func record(_ arrival: Arrival, in store: some ReconciliationStore, lines: ([BankLine]) async throws -> Void) async throws -> ItemRef {
        switch arrival {
        case .order(let order):
            try await store.insert(order)
            return .order(order.orderID)
        case .payment(let payment):
            _ = try await store.record(payment)
            return .payment(payment.paymentID)
        case .adjustment(let adjustment):
            _ = try await store.record(adjustment)
            return .payment(adjustment.paymentID)
        case .payout(let payout):
            _ = try await store.record(payout)
            return .payout(payout.payoutID)
        case .line(let line):
            try await lines([line])
            return Neighborhood.ref(line)
        }
    }

    static func statuses(_ checks: [Check]) -> [String: String] {
        Dictionary(
            uniqueKeysWithValues: checks.map { check in
                let status: String = if case .mismatched(let reason) = check.status { reason.rawValue } else { check.status.name }
                return (check.key, status)
            })
    }
}

@Suite("Matching: the pure rules")
struct MatcherTests {
    static let all: [Check] = {
        var facts = ReconciliationFacts()
        facts.accounts[Scenario.account.accountID] = Scenario.account
        for arrival in Scenario.arrivals {
            switch arrival {
            case .order(let o): facts.add(o)
            case .payment(let p): facts.add(p)
            case .adjustment(let a): facts.add(a)
            case .payout(let p): facts.add(p)
            case .line(let l): facts.add(l)
            }
        }
        return Matcher.checks(facts, settings: .exact, now: Scenario.later)
    }()

    @Test(arguments: [
        ("order_payment:order:ord_1", "matched"), ("order_payment:payment:pi_1", "matched"), ("payment_payout:payment:pi_1", "matched"),
        ("payment_payout:payout:po_1", "matched"), ("payout_bank:payout:po_1", "matched"), ("payout_bank:bank_line:acc_main/B1", "matched"),
        ("order_payment:order:ord_2", "amount_mismatch"), ("order_payment:payment:pi_2", "matched"),
        ("order_payment:order:ord_3", "order_paid_no_payment"),
        ("payment_payout:payout:po_2", "matched"), ("payout_bank:payout:po_2", "matched"), ("payout_bank:bank_line:acc_main/B2", "matched"),
        ("payout_bank:payout:po_3", "payout_without_bank_line"), ("order_payment:payment:pi_5", "matched"),
        ("payout_bank:bank_line:acc_main/B3", "bank_line_unmatched"),
        ("refunds:payment:pi_1", "refund_exceeds_payment"), ("refunds:payment:pi_9", "refund_without_payment"),
        ("payout_bank:payout:po_4", "matched"), ("payout_bank:payout:po_5", "matched"), ("payout_bank:bank_line:acc_main/B4", "matched"),
        ("payment_payout:payout:po_6", "payout_payment_unknown"), ("payment_payout:payment:pi_8", "payment_not_paid_out"),
        ("payment_payout:payment:pi_10", "payment_not_paid_out"), ("payout_bank:payout:po_6", "matched"),
        ("order_payment:order:ord_11", "duplicate_payment"),
        ("order_payment:payment:pi_12", "payment_without_order"), ("payment_payout:payment:pi_12", "payment_not_paid_out"),
    ])
    func everyCheckHasItsStatus(_ key: String, _ status: String) {
        #expect(Scenario.statuses(Self.all)[key] == status, "\(key)")
    }

    @Test func mismatchesCarryTheAmountsOnEachSide() throws {
        let offByACent = try #require(Self.all.first { $0.key == "order_payment:order:ord_2" })
        #expect(offByACent.expected == Scenario.usd(1000) && offByACent.actual == Scenario.usd(999))
        #expect(offByACent.counterparts == [.payment("pi_2")] && offByACent.orderID == "ord_2")
        let line = try #require(Self.all.first { $0.key == "payout_bank:payout:po_2" })
        #expect(line.counterparts == [.bankLine(account: "acc_main", reference: "B2")] && line.actual == Scenario.usd(2949))
    }

    @Test func countsOfEveryItemsChecks() {
        #expect(Set(Self.all.map(\.key)).count == Self.all.count, "one check per leg and item")
        let reasons = Set(Self.all.compactMap { if case .mismatched(let r) = $0.status { r } else { nil } })
        #expect(reasons.isSuperset(of: [.amountMismatch, .orderPaidNoPayment, .payoutWithoutBankLine, .bankLineUnmatched, .refundExceedsPayment, .duplicatePayment]))
    }

    @Test func beforeTheWindowsPassAMissingCounterpartIsExpected() {
        var facts = ReconciliationFacts()
        facts.add(Scenario.order("ord_3", 2500, paying: "pi_3"))
        facts.add(Scenario.payout("po_3", 700))
        let soon = Matcher.checks(facts, settings: .exact, now: Scenario.morning.addingTimeInterval(60))
        let order = soon.first { $0.key == "order_payment:order:ord_3" }
        #expect(order?.status == .expected(until: Scenario.morning.addingTimeInterval(3_600)))
        let deposit = soon.first { $0.key == "payout_bank:payout:po_3" }
        #expect(deposit?.status == .expected(until: Scenario.day.adding(days: 1 + 3 + 1).start), "arrival day plus the settlement window, to its end")
    }

    @Test func aToleranceIsExplicitAndPerCurrency() {
        var facts = ReconciliationFacts()
        facts.add(Scenario.order("ord_2", 1000, paying: "pi_2"))
        facts.add(Scenario.payment("pi_2", 999))
        let exact = Matcher.checks(facts, settings: .exact, now: Scenario.later).first { $0.leg == .orderPayment && $0.subject == .order("ord_2") }
        #expect(exact?.status == .mismatched(.amountMismatch), "zero tolerance by default")
        let rounding = MatchingSettings(tolerances: [Scenario.usd: 1])
        let tolerant = Matcher.checks(facts, settings: rounding, now: Scenario.later).first { $0.leg == .orderPayment && $0.subject == .order("ord_2") }
        #expect(tolerant?.status == .matched)
        let euros = MatchingSettings(tolerances: [Scenario.eur: 5])
        #expect(Matcher.checks(facts, settings: euros, now: Scenario.later).first { $0.subject == .order("ord_2") }?.status == .mismatched(.amountMismatch))
    }

    @Test func bankLineWordsAreWholeAndCaseInsensitive() {
        let line = Scenario.line("B", 1, "Payout PO_12, ref po_1-x")
        #expect(line.mentions("po_12") && line.mentions("PO_1-X"))
        #expect(!line.mentions("po_1"), "po_1 is not a word of the text, only part of one")
    }

    @Test func aRefundWithinWhatWasCapturedMatchesAndAWonDisputeGivesBack() {
        var facts = ReconciliationFacts()
        facts.add(Scenario.payment("pi_1", 1000, invoice: "in_1"))
        facts.add(Scenario.refund("re_1", of: "pi_1", 600))
        facts.add(PaymentAdjustment(kind: .dispute, adjustmentID: "dp_1", paymentID: "pi_1", amount: Scenario.usd(1000), occurredAt: Scenario.morning, sourceEventID: "e"))
        #expect(Matcher.checks(facts, settings: .exact, now: Scenario.later).first { $0.leg == .refunds }?.status == .mismatched(.refundExceedsPayment))
        facts.add(PaymentAdjustment(kind: .disputeWon, adjustmentID: "dp_1", paymentID: "pi_1", amount: Scenario.usd(-1000), occurredAt: Scenario.morning, sourceEventID: "f"))
        let check = Matcher.checks(facts, settings: .exact, now: Scenario.later).first { $0.leg == .refunds }
        #expect(check?.status == .matched && check?.actual == Scenario.usd(600))
    }
}

@Suite("Discrepancy rules")
struct DiscrepancyRulesTests {
    static let now = Scenario.later
    static func check(_ status: MatchStatus) -> Check {
        Check(leg: .orderPayment, subject: .order("ord_1"), counterparts: [], status: status, expected: Scenario.usd(100), actual: nil, orderID: "ord_1", day: Scenario.day)
    }

    @Test func aMismatchOpensAndTheMatchResolvesItByMatching() throws {
        let opened = DiscrepancyRules.decide(previous: nil, current: Self.check(.mismatched(.orderPaidNoPayment)), recorded: [], now: Self.now)
        guard case .open(let discrepancy) = try #require(opened.first) else { throw Failure("expected an opening") }
        #expect(discrepancy.revision == 1 && discrepancy.status == .open)
        let later = Self.now.addingTimeInterval(90)
        let resolved = DiscrepancyRules.decide(previous: Self.check(.mismatched(.orderPaidNoPayment)), current: Self.check(.matched), recorded: [discrepancy], now: later)
        guard case .resolve(let closed) = try #require(resolved.first) else { throw Failure("expected a resolution") }
        #expect(closed.resolvedBy == .matching && closed.age(at: later.addingTimeInterval(999)) == 90, "the time it was open")
    }

    @Test func aChangedReasonResolvesTheOldAndOpensTheNew() {
        let old = Discrepancy(
            checkKey: Self.check(.matched).key, reason: .orderPaidNoPayment, status: .open, revision: 1, openedAt: Self.now, resolvedAt: nil, resolvedBy: nil,
            check: Self.check(.mismatched(.orderPaidNoPayment)), owner: "ana")
        let changes = DiscrepancyRules.decide(previous: old.check, current: Self.check(.mismatched(.amountMismatch)), recorded: [old], now: Self.now)
        #expect(changes.count == 2)
        if case .resolve(let closed) = changes[0] { #expect(closed.reason == .orderPaidNoPayment) } else { Issue.record("first resolves") }
        if case .open(let new) = changes[1] { #expect(new.reason == .amountMismatch && new.revision == 1) } else { Issue.record("then opens") }
    }

    @Test func aManualResolutionHoldsWhileTheSameGapPersistsAndReopensWhenItReturns() throws {
        let failing = Self.check(.mismatched(.amountMismatch))
        var manual = Discrepancy(
            checkKey: failing.key, reason: .amountMismatch, status: .open, revision: 1, openedAt: Self.now, resolvedAt: nil, resolvedBy: nil, check: failing,
            owner: nil)
        manual = try DiscrepancyRules.resolveManually(manual, now: Self.now).get()
        #expect(DiscrepancyRules.decide(previous: failing, current: failing, recorded: [manual], now: Self.now).isEmpty, "the person decided")
        let back = DiscrepancyRules.decide(previous: Self.check(.matched), current: failing, recorded: [manual], now: Self.now)
        guard case .open(let reopened) = try #require(back.first) else { throw Failure("expected a reopening") }
        #expect(reopened.revision == 2)
        #expect(throws: WorkbenchRefusal.notOpen) { try DiscrepancyRules.resolveManually(manual, now: Self.now).get() }
        #expect(throws: WorkbenchRefusal.checkPasses) { try DiscrepancyRules.reopen(manual, current: Self.check(.matched), now: Self.now).get() }
        #expect(try DiscrepancyRules.reopen(manual, current: failing, now: Self.now).get().status == .open)
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("Matching is replay-safe")
struct ReplayOrderTests {
    /// Whatever order the facts arrive in, and with every fact delivered twice, the checks end
    /// as one evaluation of all the facts says, and exactly the mismatched checks have an open
    /// discrepancy: the neighborhood a pass loads is always enough.
    @Test func factsInAnyOrderEndInTheSameState() async throws {
        let expected = Scenario.statuses(MatcherTests.all)
        await propertyCheck(count: 60, input: Gen.int(in: 0...Int.max)) { seed in
            var generator = SeededGenerator(seed: UInt64(seed))
            let order = Scenario.arrivals.shuffled(using: &generator)
            let store = InMemoryReconciliationStore(accounts: [Scenario.account])
            do {
                for arrival in order { try await Scenario.apply(arrival, to: store, now: Scenario.later) }
                for arrival in order.shuffled(using: &generator) { try await Scenario.apply(arrival, to: store, now: Scenario.later) }
            } catch {
                Issue.record("applying failed: \(error)")
                return
            }
            let got = Scenario.statuses(Array(store.checkStates.values))
            #expect(got == expected, "order: \(order)")
            let mismatched = Set(
                store.checkStates.values.compactMap { check -> String? in
                    if case .mismatched(let reason) = check.status { "\(check.key) \(reason.rawValue)" } else { nil }
                })
            #expect(store.openDiscrepancies == mismatched)
        }
    }

    @Test func aSecondPassOverTheSameFactsPublishesNothing() async throws {
        let store = InMemoryReconciliationStore(accounts: [Scenario.account])
        for arrival in Scenario.arrivals { try await Scenario.apply(arrival, to: store, now: Scenario.later) }
        let published = store.state.withLock { $0.outbox.count }
        for arrival in Scenario.arrivals { try await Scenario.apply(arrival, to: store, now: Scenario.later) }
        #expect(store.state.withLock { $0.outbox.count } == published)
        let ids = store.state.withLock { $0.outbox.map(\.eventID) }
        #expect(Set(ids).count == ids.count, "every message has its own id")
        #expect(store.state.withLock { $0.outbox.allSatisfy { $0.key == "org_acme" && $0.topic == "tally.reconciliation.v1" } })
    }

    @Test func lateDataResolvesWhatTheWindowOpened() async throws {
        let store = InMemoryReconciliationStore(accounts: [Scenario.account])
        try await Scenario.apply(.order(Scenario.order("ord_3", 2500, paying: "pi_3")), to: store, now: Scenario.later)
        #expect(store.openDiscrepancies == ["order_payment:order:ord_3 order_paid_no_payment"])
        try await Scenario.apply(.payment(Scenario.payment("pi_3", 2500)), to: store, now: Scenario.later.addingTimeInterval(600))
        #expect(store.openDiscrepancies.filter { $0.hasPrefix("order_payment:order:ord_3") }.isEmpty)
        let resolved = store.state.withLock { $0.discrepancies.values.first { $0.discrepancy.checkKey == "order_payment:order:ord_3" } }
        #expect(resolved?.discrepancy.resolvedBy == .matching && resolved?.discrepancy.age(at: Scenario.later) == 600)
    }
}

/// A small deterministic generator (SplitMix64), so a failing order can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
