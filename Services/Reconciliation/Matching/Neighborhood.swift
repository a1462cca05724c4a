import Contracts
import Foundation

/// Where amount-and-date matching looks for counterparts: one currency, an amount range and a
/// day range (both inclusive).
struct AmountWindow: Equatable, Sendable {
    var currency: CurrencyCode
    var minMinor: Int64
    var maxMinor: Int64
    var from: BankDay
    var through: BankDay
}

/// The reads of recorded facts matching needs. The PostgreSQL store answers them with indexed
/// queries; tests answer them from memory.
protocol FactLookup: Sendable {
    func orders(ids: Set<String>, payingWith paymentIDs: Set<String>) async throws -> [ExpectedOrder]
    func payments(ids: Set<String>, forOrders orderIDs: Set<String>) async throws -> [CapturedPayment]
    func adjustments(of paymentIDs: Set<String>) async throws -> [PaymentAdjustment]
    func payouts(ids: Set<String>, listing paymentIDs: Set<String>) async throws -> [ProviderPayout]
    /// Payouts whose id, lowercased, is one of `tokens` (the words of bank line texts).
    func payouts(named tokens: Set<String>) async throws -> [ProviderPayout]
    /// Lines by ref, and lines whose text names one of the payouts (a whole word, any case).
    func bankLines(refs: Set<ItemRef>, naming payoutIDs: Set<String>) async throws -> [BankLine]
    /// Payments whose net (amount less fee) and capture day fall in the window.
    func payments(in window: AmountWindow) async throws -> [CapturedPayment]
    /// Payouts whose amount and arrival day fall in the window.
    func payouts(in window: AmountWindow) async throws -> [ProviderPayout]
    /// Bank lines whose amount and booking day fall in the window.
    func bankLines(in window: AmountWindow) async throws -> [BankLine]
    func bankAccounts() async throws -> [BankAccount]
}

/// The facts around some items, enough to decide every check of those items exactly.
///
/// A check depends on facts at most three links away (a payment's payout match depends on the
/// payout, on the payout's other candidates, and on whether those are listed elsewhere), so a
/// new fact can change checks up to three links from it, and deciding those needs facts up to
/// six links away. `load` walks that far (stopping early when nothing new turns up) and says
/// which items are close enough to decide: the `interior`. Links are references (an order's
/// payment, a payout's payments, a bank line naming a payout) and amount-and-date candidates.
enum Neighborhood {
    static let decideRadius = 3
    static let loadRadius = 6

    struct Loaded {
        var facts: ReconciliationFacts
        var interior: Set<ItemRef>
    }

    static func load(around seeds: Set<ItemRef>, lookup: some FactLookup, settings: MatchingSettings) async throws -> Loaded {
        var facts = ReconciliationFacts()
        for account in try await lookup.bankAccounts() { facts.accounts[account.accountID] = account }
        var seen = Set<ItemRef>()
        var interior = seeds

        // Distance 0: the seeds themselves.
        var frontier = try await seedFacts(seeds, lookup: lookup, into: &facts)
        seen.formUnion(seeds)
        seen.formUnion(frontier)
        interior.formUnion(frontier)
        var distance = 0
        while !frontier.isEmpty && distance < loadRadius {
            distance += 1
            let found = try await neighbors(of: frontier, facts: facts, lookup: lookup, settings: settings, into: &facts)
            frontier = found.subtracting(seen)
            seen.formUnion(frontier)
            if distance <= decideRadius { interior.formUnion(frontier) }
        }
        return Loaded(facts: facts, interior: interior.intersection(facts.items.union(seeds)))
    }

    /// Loads the seeds' own facts; returns the items found.
    private static func seedFacts(_ seeds: Set<ItemRef>, lookup: some FactLookup, into facts: inout ReconciliationFacts) async throws -> Set<ItemRef> {
        var orderIDs = Set<String>()
        var paymentIDs = Set<String>()
        var payoutIDs = Set<String>()
        var lines = Set<ItemRef>()
        for seed in seeds {
            switch seed {
            case .order(let id): orderIDs.insert(id)
            case .payment(let id): paymentIDs.insert(id)
            case .payout(let id): payoutIDs.insert(id)
            case .bankLine: lines.insert(seed)
            }
        }
        var found = Set<ItemRef>()
        if !orderIDs.isEmpty { for order in try await lookup.orders(ids: orderIDs, payingWith: []) { facts.add(order); found.insert(.order(order.orderID)) } }
        if !paymentIDs.isEmpty {
            for payment in try await lookup.payments(ids: paymentIDs, forOrders: []) { facts.add(payment); found.insert(.payment(payment.paymentID)) }
            for adjustment in try await lookup.adjustments(of: paymentIDs) { facts.add(adjustment) }
        }
        if !payoutIDs.isEmpty { for payout in try await lookup.payouts(ids: payoutIDs, listing: []) { facts.add(payout); found.insert(.payout(payout.payoutID)) } }
        if !lines.isEmpty { for line in try await lookup.bankLines(refs: lines, naming: []) { facts.add(line); found.insert(ref(line)) } }
        return found
    }

    /// Everything one link from `items`, added to `facts`; returns the items reached.
    private static func neighbors(
        of items: Set<ItemRef>, facts current: ReconciliationFacts, lookup: some FactLookup, settings: MatchingSettings, into facts: inout ReconciliationFacts
    ) async throws -> Set<ItemRef> {
        let orders = items.compactMap { if case .order(let id) = $0 { current.orders[id] } else { nil } }
        let payments = items.compactMap { if case .payment(let id) = $0 { current.payments[id] } else { nil } }
        let payouts = items.compactMap { if case .payout(let id) = $0 { current.payouts[id] } else { nil } }
        let lines = items.compactMap { current.bankLines[$0] }
        let maxWindow = max(settings.settlementWindowDays, current.accounts.values.map(\.settlementWindowDays).max() ?? 0)
        var found = Set<ItemRef>()

        func addPayments(_ list: [CapturedPayment]) { for payment in list { facts.add(payment); found.insert(.payment(payment.paymentID)) } }
        func addPayouts(_ list: [ProviderPayout]) { for payout in list { facts.add(payout); found.insert(.payout(payout.payoutID)) } }
        func addLines(_ list: [BankLine]) { for line in list { facts.add(line); found.insert(ref(line)) } }

        let paymentIDs = Set(orders.compactMap(\.paymentRef)).union(payouts.flatMap(\.paymentRefs))
        let orderIDs = Set(orders.map(\.orderID))
        if !paymentIDs.isEmpty || !orderIDs.isEmpty { addPayments(try await lookup.payments(ids: paymentIDs, forOrders: orderIDs)) }
        if !payments.isEmpty {
            for order in try await lookup.orders(ids: Set(payments.compactMap(\.orderRef)), payingWith: Set(payments.map(\.paymentID))) {
                facts.add(order)
                found.insert(.order(order.orderID))
            }
        }
        let namedPayouts = Set(lines.flatMap(\.tokens))
        if !payments.isEmpty { addPayouts(try await lookup.payouts(ids: [], listing: Set(payments.map(\.paymentID)))) }
        if !namedPayouts.isEmpty { addPayouts(try await lookup.payouts(named: namedPayouts)) }
        if !payouts.isEmpty { addLines(try await lookup.bankLines(refs: [], naming: Set(payouts.map(\.payoutID)))) }

        // Amount-and-date candidates, both ways.
        for payout in payouts {
            let tolerance = settings.tolerance(payout.amount.currency)
            let amount = payout.amount.amountMinor
            addPayments(
                try await lookup.payments(
                    in: AmountWindow(
                        currency: payout.amount.currency, minMinor: amount - tolerance, maxMinor: amount + tolerance,
                        from: payout.arrival.adding(days: -settings.payoutWindowDays), through: payout.arrival)))
            addLines(
                try await lookup.bankLines(
                    in: AmountWindow(
                        currency: payout.amount.currency, minMinor: amount - tolerance, maxMinor: amount + tolerance, from: payout.arrival,
                        through: payout.arrival.adding(days: maxWindow))))
        }
        for payment in payments {
            let tolerance = settings.tolerance(payment.amount.currency)
            let day = BankDay(payment.capturedAt)
            addPayouts(
                try await lookup.payouts(
                    in: AmountWindow(
                        currency: payment.amount.currency, minMinor: payment.net - tolerance, maxMinor: payment.net + tolerance, from: day,
                        through: day.adding(days: settings.payoutWindowDays))))
        }
        for line in lines where line.amount.amountMinor > 0 {
            let tolerance = settings.tolerance(line.amount.currency)
            let amount = line.amount.amountMinor
            addPayouts(
                try await lookup.payouts(
                    in: AmountWindow(
                        currency: line.amount.currency, minMinor: amount - tolerance, maxMinor: amount + tolerance, from: line.booked.adding(days: -maxWindow),
                        through: line.booked)))
        }
        let newPaymentIDs = Set(found.compactMap { if case .payment(let id) = $0, current.payments[id] == nil { id } else { nil } })
        if !newPaymentIDs.isEmpty { for adjustment in try await lookup.adjustments(of: newPaymentIDs) { facts.add(adjustment) } }
        return found
    }

    static func ref(_ line: BankLine) -> ItemRef { .bankLine(account: line.accountID, reference: line.bankReference) }
}
