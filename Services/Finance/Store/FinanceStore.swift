import Contracts
import Foundation

/// An event kept until its predecessor arrives (`held_events`): its raw envelope, to be decided again.
struct HeldEvent: Hashable, Sendable {
    var eventID: String
    var eventType: String
    var payment: PaymentKey
    var reason: HoldReason
    var occurredAt: Date
    var envelope: [UInt8]
}

/// What the consumer's handlers read and write, inside the inbox's transaction for one org
/// (the caller ran `setTenant`). `PostgresFinanceStore` is the real one; the tests also use an
/// in-memory one, so the handlers' rules are checked without a database.
protocol FinanceStore: Sendable {
    // MARK: Ledger
    /// The transaction the ledger holds under `key`, as it was proposed.
    func transaction(key: String) async throws -> ProposedTransaction?
    /// Numbers, chains and writes `proposal` (its accounts created on first use); the
    /// database checks the balance again at commit. Throws when the key already exists.
    func post(_ proposal: ProposedTransaction, postedAt: Date) async throws -> PostedTransaction
    /// Lists a refused fact for a person; the same refusal twice is kept once.
    func recordConflict(_ conflict: LedgerConflict) async throws
    /// Queues a message in the service's outbox, in the same transaction.
    func enqueue(_ message: OutboxMessage) async throws

    // MARK: Payments
    /// The payment's record, locked until the transaction ends (nil: unknown so far).
    func payment(_ key: PaymentKey) async throws -> PaymentRecord?
    func save(_ record: PaymentRecord, at: Date) async throws
    /// Adds (or, for a held event decided again, updates) the payment's timeline row for an event.
    func recordTimeline(_ payment: PaymentKey, eventID: String, eventType: String, occurredAt: Date, transactionID: Int64?, note: String?) async throws
    func hold(_ event: HeldEvent) async throws
    /// The payment's events still waiting, oldest fact first.
    func heldEvents(of payment: PaymentKey) async throws -> [HeldEvent]
    func release(eventID: String, at: Date) async throws

    // MARK: Refunds
    func refundRequests(of payment: PaymentKey) async throws -> [RefundRequest]
    func update(_ request: RefundRequest) async throws
    func recordProviderRefund(_ payment: PaymentKey, refundID: String, amount: Money, requestID: String?, transactionID: Int64) async throws

    // MARK: Payouts
    func insert(_ payout: PayoutRecord) async throws
}
