import Contracts
import Foundation
import Synchronization

@testable import Reconciliation

/// The reconciliation schema in memory, answering every lookup as the PostgreSQL store's SQL
/// does (the store tests run the same scenarios on both and compare).
final class InMemoryReconciliationStore: ReconciliationStore, Sendable {
    struct State {
        var orders: [String: ExpectedOrder] = [:]
        var payments: [String: CapturedPayment] = [:]
        var adjustments: [String: PaymentAdjustment] = [:]
        var payouts: [String: ProviderPayout] = [:]
        var lines: [ItemRef: BankLine] = [:]
        var accounts: [String: BankAccount] = [:]
        var ledger: [Int64: LedgerTrailEntry] = [:]
        var settings = MatchingSettings.exact
        var checks: [String: RecordedCheck] = [:]
        var discrepancies: [String: RecordedDiscrepancy] = [:]
        var outbox: [OutboxMessage] = []
    }

    let state = Mutex(State())

    init(settings: MatchingSettings = .exact, accounts: [BankAccount] = []) {
        state.withLock {
            $0.settings = settings
            for account in accounts { $0.accounts[account.accountID] = account }
        }
    }

    func order(_ orderID: String) async throws -> ExpectedOrder? { state.withLock { $0.orders[orderID] } }
    func insert(_ order: ExpectedOrder) async throws { state.withLock { if $0.orders[order.orderID] == nil { $0.orders[order.orderID] = order } } }

    func record(_ payment: CapturedPayment) async throws -> Bool {
        state.withLock { state in
            guard state.payments[payment.paymentID] == nil else { return false }
            state.payments[payment.paymentID] = payment
            return true
        }
    }

    func record(_ adjustment: PaymentAdjustment) async throws -> Bool {
        state.withLock { state in
            let key = "\(adjustment.kind.rawValue)/\(adjustment.adjustmentID)"
            guard state.adjustments[key] == nil else { return false }
            state.adjustments[key] = adjustment
            return true
        }
    }

    func record(_ payout: ProviderPayout) async throws -> Bool {
        state.withLock { state in
            guard state.payouts[payout.payoutID] == nil else { return false }
            state.payouts[payout.payoutID] = payout
            return true
        }
    }

    func record(_ posting: LedgerTrailEntry) async throws -> Bool {
        state.withLock { state in
            guard state.ledger[posting.transactionID] == nil else { return false }
            state.ledger[posting.transactionID] = posting
            return true
        }
    }

    /// A statement's lines, each kept once by account and bank reference.
    func record(_ lines: [BankLine]) {
        state.withLock { state in
            for line in lines where state.lines[Neighborhood.ref(line)] == nil { state.lines[Neighborhood.ref(line)] = line }
        }
    }

    func orders(ids: Set<String>, payingWith paymentIDs: Set<String>) async throws -> [ExpectedOrder] {
        state.withLock { $0.orders.values.filter { ids.contains($0.orderID) || $0.paymentRef.map(paymentIDs.contains) == true } }
    }

    func payments(ids: Set<String>, forOrders orderIDs: Set<String>) async throws -> [CapturedPayment] {
        state.withLock { $0.payments.values.filter { ids.contains($0.paymentID) || $0.orderRef.map(orderIDs.contains) == true } }
    }

    func adjustments(of paymentIDs: Set<String>) async throws -> [PaymentAdjustment] {
        state.withLock { $0.adjustments.values.filter { paymentIDs.contains($0.paymentID) } }
    }

    func payouts(ids: Set<String>, listing paymentIDs: Set<String>) async throws -> [ProviderPayout] {
        state.withLock { $0.payouts.values.filter { ids.contains($0.payoutID) || !paymentIDs.isDisjoint(with: $0.paymentRefs) } }
    }

    func payouts(named tokens: Set<String>) async throws -> [ProviderPayout] {
        state.withLock { $0.payouts.values.filter { tokens.contains($0.payoutID.lowercased()) } }
    }

    func bankLines(refs: Set<ItemRef>, naming payoutIDs: Set<String>) async throws -> [BankLine] {
        let named = Set(payoutIDs.map { $0.lowercased() })
        return state.withLock { $0.lines.filter { refs.contains($0.key) || !named.isDisjoint(with: $0.value.tokens) }.map(\.value) }
    }

    func payments(in window: AmountWindow) async throws -> [CapturedPayment] {
        state.withLock {
            $0.payments.values.filter {
                $0.amount.currency == window.currency && (window.minMinor...window.maxMinor).contains($0.net)
                    && (window.from...window.through).contains(BankDay($0.capturedAt))
            }
        }
    }

    func payouts(in window: AmountWindow) async throws -> [ProviderPayout] {
        state.withLock {
            $0.payouts.values.filter {
                $0.amount.currency == window.currency && (window.minMinor...window.maxMinor).contains($0.amount.amountMinor)
                    && (window.from...window.through).contains($0.arrival)
            }
        }
    }

    func bankLines(in window: AmountWindow) async throws -> [BankLine] {
        state.withLock {
            $0.lines.values.filter {
                $0.amount.currency == window.currency && (window.minMinor...window.maxMinor).contains($0.amount.amountMinor)
                    && (window.from...window.through).contains($0.booked)
            }
        }
    }

    func bankAccounts() async throws -> [BankAccount] { state.withLock { Array($0.accounts.values) } }
    func settings() async throws -> MatchingSettings { state.withLock { $0.settings } }

    func checks(keys: Set<String>) async throws -> [String: RecordedCheck] { state.withLock { $0.checks.filter { keys.contains($0.key) } } }
    func save(_ check: RecordedCheck, now: Date) async throws { state.withLock { $0.checks[check.check.key] = check } }

    func discrepancies(checkKeys: Set<String>) async throws -> [String: [RecordedDiscrepancy]] {
        state.withLock { Dictionary(grouping: $0.discrepancies.values.filter { checkKeys.contains($0.discrepancy.checkKey) }, by: \.discrepancy.checkKey) }
    }

    func save(_ discrepancy: RecordedDiscrepancy, now: Date) async throws { state.withLock { $0.discrepancies[discrepancy.id] = discrepancy } }
    func enqueue(_ message: OutboxMessage) async throws { state.withLock { $0.outbox.append(message) } }
    func refreshDeadline() async throws {}

    /// Every recorded fact, for a from-scratch evaluation.
    var allFacts: ReconciliationFacts {
        state.withLock { state in
            var facts = ReconciliationFacts()
            for order in state.orders.values { facts.add(order) }
            for payment in state.payments.values { facts.add(payment) }
            for adjustment in state.adjustments.values { facts.add(adjustment) }
            for payout in state.payouts.values { facts.add(payout) }
            for line in state.lines.values { facts.add(line) }
            facts.accounts = state.accounts
            return facts
        }
    }

    /// The check states, without revisions (they count changes, which depend on arrival order).
    var checkStates: [String: Check] { state.withLock { $0.checks.mapValues(\.check) } }

    /// Open discrepancies by check key and reason.
    var openDiscrepancies: Set<String> {
        state.withLock { Set($0.discrepancies.values.filter { $0.discrepancy.status == .open }.map { "\($0.discrepancy.checkKey) \($0.discrepancy.reason.rawValue)" }) }
    }
}
