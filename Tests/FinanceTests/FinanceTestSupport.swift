import Contracts
import Foundation
import Storage
import Synchronization
import TallyTestSupport

@testable import Finance

/// Builders for finance's facts, and the books in memory as `PostgresFinanceStore` keeps them.
enum Books {
    static let usd = CurrencyCode(rawValue: "USD")!
    static let eur = CurrencyCode(rawValue: "EUR")!
    static let org = TenantID(rawValue: "org_books")!
    static let start = Date(timeIntervalSince1970: 1_795_000_000)

    static func origin(_ provider: WebhookProvider = .stripe, event: String, at seconds: Double = 0) -> EventOrigin {
        EventOrigin(provider: provider, providerEventID: event, occurredAt: start.addingTimeInterval(seconds), sourceInboxID: "inbox-\(event)", trust: .verified)
    }

    static func usd(_ minor: Int64) -> Money { Money(amountMinor: minor, currency: usd) }

    static func captured(_ payment: String, _ minor: Int64, fee: Int64? = nil, event: String, at seconds: Double = 0, provider: WebhookProvider = .stripe) -> PaymentFact {
        .captured(
            PaymentCaptured(
                origin: origin(provider, event: event, at: seconds), paymentID: payment, amount: usd(minor), fee: fee.map(usd), customerRef: "cus_1", orderRef: nil,
                subscriptionRef: nil, invoiceRef: nil))
    }

    static func refunded(_ payment: String, refund: String, _ minor: Int64, event: String, at seconds: Double = 0) -> PaymentFact {
        .refunded(PaymentRefunded(origin: origin(event: event, at: seconds), paymentID: payment, refundID: refund, amount: usd(minor), full: false))
    }

    static func disputed(_ payment: String, dispute: String, _ minor: Int64, event: String, at seconds: Double = 0) -> PaymentFact {
        .disputed(PaymentDisputed(origin: origin(event: event, at: seconds), paymentID: payment, disputeID: dispute, amount: usd(minor), reason: "fraudulent"))
    }

    static func closed(_ payment: String, dispute: String, _ minor: Int64, _ outcome: DisputeOutcome, event: String, at seconds: Double = 0) -> PaymentFact {
        .disputeClosed(PaymentDisputeClosed(origin: origin(event: event, at: seconds), paymentID: payment, disputeID: dispute, amount: usd(minor), outcome: outcome))
    }

    static func payout(_ id: String, _ minor: Int64, event: String, at seconds: Double = 0) -> PayoutPaid {
        PayoutPaid(origin: origin(event: event, at: seconds), payoutID: id, amount: usd(minor), fees: nil, arrivalDate: "2026-11-20", paymentRefs: [])
    }

    /// The fact as the handler receives it: the envelope's canonical JSON included (held events keep it).
    static func arrival(_ fact: PaymentFact, id: String) throws -> PaymentEventsHandler.Arrival {
        func envelope<P: EventPayload>(_ payload: P) throws -> [UInt8] {
            try CanonicalJSON.encode(
                EventEnvelope(id: id, source: "/tally/normalizer", time: start, tenant: org.rawValue, correlationID: "corr-\(id)", causationID: nil, data: payload))
        }
        let bytes: [UInt8]
        switch fact {
        case .intentCreated(let payload): bytes = try envelope(payload)
        case .captured(let payload): bytes = try envelope(payload)
        case .failed(let payload): bytes = try envelope(payload)
        case .refunded(let payload): bytes = try envelope(payload)
        case .disputed(let payload): bytes = try envelope(payload)
        case .disputeClosed(let payload): bytes = try envelope(payload)
        }
        return PaymentEventsHandler.Arrival(fact: fact, eventID: id, tenant: org, correlationID: "corr-\(id)", envelope: bytes)
    }

    static func payoutEvent(_ paid: PayoutPaid, id: String) throws -> InboxEvent<PayoutPaid> {
        try TestEvents.inboxEvent(EventEnvelope(id: id, source: "/tally/normalizer", time: start, tenant: org.rawValue, correlationID: "corr-\(id)", causationID: nil, data: paid))
    }
}

/// One org's books in memory, with the same guarantees as the PostgreSQL store: one
/// transaction per key, a sequence without gaps, the hash chain, one conflict per refusal.
final class InMemoryBooks: FinanceStore, Sendable {
    struct State {
        var transactions: [PostedTransaction] = []
        var conflicts: [LedgerConflict] = []
        var outbox: [OutboxMessage] = []
        var payments: [PaymentKey: PaymentRecord] = [:]
        var timeline: [String: String?] = [:]
        var held: [String: HeldEvent] = [:]
        var requests: [String: RefundRequest] = [:]
        var providerRefunds: [String: String?] = [:]
        var payouts: [String: PayoutRecord] = [:]
    }
    let state = Mutex(State())

    var transactions: [PostedTransaction] { state.withLock { $0.transactions } }
    var conflicts: [LedgerConflict] { state.withLock { $0.conflicts } }
    var payments: [PaymentRecord] { state.withLock { Array($0.payments.values) } }
    var heldCount: Int { state.withLock { $0.held.count } }

    /// Balance per "account currency".
    var balances: [String: Int64] {
        var totals: [String: Int64] = [:]
        for entry in transactions.flatMap(\.entries) { totals["\(entry.account) \(entry.currency.rawValue)", default: 0] += entry.amountMinor }
        return totals.filter { $0.value != 0 }
    }

    func transaction(key: String) async throws -> ProposedTransaction? { state.withLock { $0.transactions.first { $0.key == key }?.proposal } }

    func post(_ proposal: ProposedTransaction, postedAt: Date) async throws -> PostedTransaction {
        try proposal.checkBalanced()
        return try state.withLock { state in
            guard !state.transactions.contains(where: { $0.key == proposal.key }) else { throw DuplicateKey(key: proposal.key) }
            let reverses = proposal.reversesKey.flatMap { key in state.transactions.first { $0.key == key }?.id }
            let previous = state.transactions.last?.chainHash ?? LedgerSeal.genesis
            let sequence = Int64(state.transactions.count + 1)
            let posted = LedgerSeal.seal(
                proposal, id: 1000 + sequence, sequence: sequence, reverses: reverses, postedAt: postedAt, previousChainHash: previous, hash: ContentHash.sha256Hex)
            state.transactions.append(posted)
            return posted
        }
    }

    struct DuplicateKey: Error { let key: String }

    func recordConflict(_ conflict: LedgerConflict) async throws {
        state.withLock { state in
            if !state.conflicts.contains(where: { ($0.key, $0.code, $0.field, $0.offered) == (conflict.key, conflict.code, conflict.field, conflict.offered) }) {
                state.conflicts.append(conflict)
            }
        }
    }

    func enqueue(_ message: OutboxMessage) async throws {
        state.withLock { state in if !state.outbox.contains(where: { $0.eventID == message.eventID }) { state.outbox.append(message) } }
    }

    var outbox: [OutboxMessage] { state.withLock { $0.outbox } }

    func payment(_ key: PaymentKey) async throws -> PaymentRecord? { state.withLock { $0.payments[key] } }
    func save(_ record: PaymentRecord, at: Date) async throws { state.withLock { $0.payments[record.key] = record } }
    func recordTimeline(_ payment: PaymentKey, eventID: String, eventType: String, occurredAt: Date, transactionID: Int64?, note: String?) async throws {
        state.withLock { $0.timeline[eventID] = note }
    }
    func hold(_ event: HeldEvent) async throws { state.withLock { $0.held[event.eventID] = event } }
    func heldEvents(of payment: PaymentKey) async throws -> [HeldEvent] {
        state.withLock { state in state.held.values.filter { $0.payment == payment }.sorted { ($0.occurredAt, $0.eventID) < ($1.occurredAt, $1.eventID) } }
    }
    func release(eventID: String, at: Date) async throws { state.withLock { _ = $0.held.removeValue(forKey: eventID) } }
    func refundRequests(of payment: PaymentKey) async throws -> [RefundRequest] {
        state.withLock { state in state.requests.values.filter { $0.payment == payment }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }
    }
    func update(_ request: RefundRequest) async throws { state.withLock { $0.requests[request.id] = request } }
    func recordProviderRefund(_ payment: PaymentKey, refundID: String, amount: Money, requestID: String?, transactionID: Int64) async throws {
        state.withLock { state in if state.providerRefunds[refundID] == nil { state.providerRefunds[refundID] = .some(requestID) } }
    }
    func insert(_ payout: PayoutRecord) async throws { state.withLock { state in if state.payouts[payout.payoutID] == nil { state.payouts[payout.payoutID] = payout } } }

    var verification: LedgerVerification {
        LedgerVerification(transactions: transactions, payments: payments, openConflicts: [], now: Books.start, hash: ContentHash.sha256Hex)
    }
}
