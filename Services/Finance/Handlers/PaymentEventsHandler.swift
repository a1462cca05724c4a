import Contracts
import Foundation
import Logging
import Metrics
import Storage

/// Applies the canonical payment events (intent created, captured, failed, refunded, disputed,
/// dispute closed) inside the consumer inbox's transaction: load the record, look the fact's
/// key up in the ledger, decide (`PaymentBook`), then save, post, hold or refuse.
///
/// Guarantees, on top of the inbox's once-per-event-id:
/// - a fact posts at most one transaction, whatever event id it arrives under;
/// - an event that waits for its predecessor is held (with its envelope) and applied, in the
///   order the facts happened, as soon as the payment changes;
/// - a provider refund settles the person's refund request it matches, or is recorded as
///   provider-initiated.
struct PaymentEventsHandler: Sendable {
    let logger: Logger
    let now: @Sendable () -> Date

    /// One event as the inbox hands it over.
    struct Arrival: Sendable {
        var fact: PaymentFact
        var eventID: String
        var tenant: TenantID
        var correlationID: String
        var envelope: [UInt8]
    }

    func handle(_ arrival: Arrival, store: some FinanceStore) async throws -> InboxOutcome {
        let outcome = try await apply(arrival, store: store, held: false)
        if outcome.changedPayment { try await releaseHeld(arrival.fact.payment, tenant: arrival.tenant, store: store) }
        return outcome.inbox
    }

    private struct Applied {
        var inbox: InboxOutcome
        /// Whether a held event might now apply (something was posted).
        var changedPayment: Bool
        var stillHeld: Bool
    }

    private func apply(_ arrival: Arrival, store: some FinanceStore, held: Bool) async throws -> Applied {
        let fact = arrival.fact
        let payment = fact.payment
        let cause = Postings.Cause(eventID: arrival.eventID, eventType: fact.eventType, occurredAt: fact.origin.occurredAt)
        let record = try await store.payment(payment)
        let proposal = PaymentBook.proposal(for: fact, record: record, cause: cause)
        var recorded: ProposedTransaction?
        if let proposal { recorded = try await store.transaction(key: proposal.key) }
        let decision = PaymentBook.decide(record: record, fact: fact, proposal: proposal, recorded: recorded)
        let time = now()
        // A known payment whose record the event leaves as it was (a repeat, a late intent).
        let recordUnchanged = record == decision.record
        var transactionID: Int64?
        var note = decision.note
        switch decision.action {
        case .post(let transaction):
            let posted = try await store.post(transaction, postedAt: LedgerSeal.truncated(time))
            transactionID = posted.id
            try await store.enqueue(
                try LedgerPublication.message(posted, tenant: arrival.tenant, correlationID: arrival.correlationID, causationID: arrival.eventID, now: time))
            try await store.save(decision.record, at: time)
            if case .refunded(let refunded) = fact {
                let request = try await settleRefund(refunded, payment: payment, transactionID: posted.id, store: store)
                note = [note, request.map { "settles refund request \($0)" } ?? "provider-initiated: no refund request"].compactMap { $0 }.joined(separator: "; ")
            }
            Counter(label: "finance_transactions_posted_total", dimensions: [("kind", transaction.kind.rawValue)]).increment()
        case .hold(let reason):
            if !held {
                try await store.hold(
                    HeldEvent(eventID: arrival.eventID, eventType: fact.eventType, payment: payment, reason: reason, occurredAt: fact.origin.occurredAt, envelope: arrival.envelope)
                )
                Counter(label: "finance_events_held_total", dimensions: [("reason", reason.rawValue)]).increment()
                logger.info("event held", metadata: ["event_id": "\(arrival.eventID)", "payment": "\(payment)", "reason": "\(reason.rawValue)"])
            }
            try await store.recordTimeline(
                payment, eventID: arrival.eventID, eventType: fact.eventType, occurredAt: fact.origin.occurredAt, transactionID: nil, note: decision.note)
            return Applied(inbox: .applied, changedPayment: false, stillHeld: true)
        case .refuse(let conflict):
            try await store.recordConflict(conflict)
            Counter(label: "finance_conflicts_total", dimensions: [("code", conflict.code.rawValue)]).increment()
            logger.warning(
                "ledger refused a fact", metadata: ["event_id": "\(arrival.eventID)", "key": "\(conflict.key)", "code": "\(conflict.code.rawValue)", "field": "\(conflict.field)"])
        case .none:
            if !recordUnchanged { try await store.save(decision.record, at: time) }
        }
        try await store.recordTimeline(
            payment, eventID: arrival.eventID, eventType: fact.eventType, occurredAt: fact.origin.occurredAt, transactionID: transactionID, note: note)
        if case .refuse = decision.action { return Applied(inbox: .applied, changedPayment: false, stillHeld: false) }
        let posted = transactionID != nil
        return Applied(inbox: !posted && recordUnchanged ? .ignored : .applied, changedPayment: posted, stillHeld: false)
    }

    /// Decides the payment's held events again, oldest fact first, until none moves.
    private func releaseHeld(_ payment: PaymentKey, tenant: TenantID, store: some FinanceStore) async throws {
        var progress = true
        while progress {
            progress = false
            for held in try await store.heldEvents(of: payment) {
                let (fact, correlationID) = try PaymentFactDecoding.decode(eventType: held.eventType, envelope: held.envelope, eventID: held.eventID)
                let arrival = Arrival(fact: fact, eventID: held.eventID, tenant: tenant, correlationID: correlationID, envelope: held.envelope)
                let applied = try await apply(arrival, store: store, held: true)
                if !applied.stillHeld {
                    try await store.release(eventID: held.eventID, at: now())
                    logger.info("held event applied", metadata: ["event_id": "\(held.eventID)", "payment": "\(payment)"])
                    progress = true
                }
            }
        }
    }

    /// Links a provider refund to the person's request it settles, or records it as
    /// provider-initiated; the id of the request it settled.
    private func settleRefund(_ refunded: PaymentRefunded, payment: PaymentKey, transactionID: Int64, store: some FinanceStore) async throws -> String? {
        let requests = try await store.refundRequests(of: payment)
        let matched = RefundRules.match(refundID: refunded.refundID, amount: refunded.amount, among: requests)
        if let matched { try await store.update(RefundRules.settled(matched, refundID: refunded.refundID, now: now())) }
        try await store.recordProviderRefund(payment, refundID: refunded.refundID, amount: refunded.amount, requestID: matched?.id, transactionID: transactionID)
        if matched == nil {
            Counter(label: "finance_provider_initiated_refunds_total").increment()
            logger.notice("provider-initiated refund posted", metadata: ["payment": "\(payment)", "refund_id": "\(refunded.refundID)"])
        }
        return matched?.id
    }
}

/// Reads a held event's envelope back as the fact it carries.
enum PaymentFactDecoding {
    static func decode(eventType: String, envelope: [UInt8], eventID: String) throws -> (PaymentFact, correlationID: String) {
        func read<P: EventPayload>(_: P.Type, _ wrap: (P) -> PaymentFact) throws -> (PaymentFact, correlationID: String) {
            let decoded = try CanonicalJSON.decode(EventEnvelope<P>.self, from: envelope)
            return (wrap(decoded.data), decoded.correlationid)
        }
        switch eventType {
        case PaymentIntentCreated.eventType: return try read(PaymentIntentCreated.self, PaymentFact.intentCreated)
        case PaymentCaptured.eventType: return try read(PaymentCaptured.self, PaymentFact.captured)
        case PaymentFailed.eventType: return try read(PaymentFailed.self, PaymentFact.failed)
        case PaymentRefunded.eventType: return try read(PaymentRefunded.self, PaymentFact.refunded)
        case PaymentDisputed.eventType: return try read(PaymentDisputed.self, PaymentFact.disputed)
        case PaymentDisputeClosed.eventType: return try read(PaymentDisputeClosed.self, PaymentFact.disputeClosed)
        default: throw UndecodableEvent(eventID: eventID, eventType: eventType, reason: "finance holds no events of this type")
        }
    }
}
