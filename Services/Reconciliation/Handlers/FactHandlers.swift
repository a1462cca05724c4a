import Contracts
import Foundation
import Logging
import Storage

/// The consumed events, inside the consumer inbox's transaction: record the fact the event
/// states, then re-check the items around it (`MatchingPass`). A fact recorded again (a
/// redelivery under another event id, or a replay) changes nothing and publishes nothing.
///
/// Ordering is not assumed: a refund before its capture, or a payout before its payments, is
/// recorded as it comes, and its checks say `expected` until the counterpart arrives.
struct FactHandlers: Sendable {
    let logger: Logger
    let now: @Sendable () -> Date

    /// `order.placed`: an order placed again with different facts is dead-lettered naming the
    /// field, and the first statement stays.
    func placed(_ event: InboxEvent<OrderPlaced>, store: some ReconciliationStore) async throws -> InboxOutcome {
        let placed = ExpectedOrder(event.data, eventID: event.envelope.id)
        switch OrderExpectation.decide(recorded: try await store.order(placed.orderID), placed: placed) {
        case .record(let order):
            try await store.insert(order)
            return try await rematch(.order(order.orderID), event: event, store: store)
        case .alreadyRecorded:
            return .ignored
        case .conflict(let conflict):
            throw conflict
        }
    }

    func captured(_ event: InboxEvent<PaymentCaptured>, store: some ReconciliationStore) async throws -> InboxOutcome {
        let data = event.data
        let payment = CapturedPayment(
            provider: data.origin.provider, paymentID: data.paymentID, amount: data.amount, fee: data.fee, orderRef: data.orderRef,
            invoiceRef: data.invoiceRef, subscriptionRef: data.subscriptionRef, capturedAt: data.origin.occurredAt, sourceEventID: event.envelope.id)
        guard try await store.record(payment) else { return .ignored }
        return try await rematch(.payment(payment.paymentID), event: event, store: store)
    }

    func refunded(_ event: InboxEvent<PaymentRefunded>, store: some ReconciliationStore) async throws -> InboxOutcome {
        let data = event.data
        return try await adjust(
            PaymentAdjustment(
                kind: .refund, adjustmentID: data.refundID, paymentID: data.paymentID, amount: data.amount, occurredAt: data.origin.occurredAt,
                sourceEventID: event.envelope.id), event: event, store: store)
    }

    func disputed(_ event: InboxEvent<PaymentDisputed>, store: some ReconciliationStore) async throws -> InboxOutcome {
        let data = event.data
        return try await adjust(
            PaymentAdjustment(
                kind: .dispute, adjustmentID: data.disputeID, paymentID: data.paymentID, amount: data.amount, occurredAt: data.origin.occurredAt,
                sourceEventID: event.envelope.id), event: event, store: store)
    }

    /// A won dispute gives its withdrawal back; a lost one keeps it, which the dispute already counted.
    func disputeClosed(_ event: InboxEvent<PaymentDisputeClosed>, store: some ReconciliationStore) async throws -> InboxOutcome {
        let data = event.data
        guard data.outcome == .won else { return .ignored }
        return try await adjust(
            PaymentAdjustment(
                kind: .disputeWon, adjustmentID: data.disputeID, paymentID: data.paymentID,
                amount: Money(amountMinor: -data.amount.amountMinor, currency: data.amount.currency), occurredAt: data.origin.occurredAt,
                sourceEventID: event.envelope.id), event: event, store: store)
    }

    func payout(_ event: InboxEvent<PayoutPaid>, store: some ReconciliationStore) async throws -> InboxOutcome {
        let data = event.data
        guard let arrival = BankDay(data.arrivalDate) else { throw UnreadableFact(field: "arrival_date", value: data.arrivalDate) }
        let payout = ProviderPayout(
            provider: data.origin.provider, payoutID: data.payoutID, amount: data.amount, fees: data.fees, arrival: arrival,
            paymentRefs: data.paymentRefs.sorted(), sourceEventID: event.envelope.id)
        guard try await store.record(payout) else { return .ignored }
        return try await rematch(.payout(payout.payoutID), event: event, store: store)
    }

    /// Ledger postings are kept for the order trail; they do not move matches.
    func posted(_ event: InboxEvent<LedgerTransactionPosted>, store: some ReconciliationStore) async throws -> InboxOutcome {
        let data = event.data
        let entry = LedgerTrailEntry(
            transactionID: data.transactionID, sequence: data.sequence, key: data.key, kind: data.kind,
            subject: data.payment?.paymentID ?? LedgerTrailEntry.subject(ofKey: data.key), postedAt: data.postedAt, entries: data.entries)
        return try await store.record(entry) ? .applied : .ignored
    }

    private func adjust<P: EventPayload>(_ adjustment: PaymentAdjustment, event: InboxEvent<P>, store: some ReconciliationStore) async throws -> InboxOutcome {
        guard try await store.record(adjustment) else { return .ignored }
        return try await rematch(.payment(adjustment.paymentID), event: event, store: store)
    }

    private func rematch<P: EventPayload>(_ seed: ItemRef, event: InboxEvent<P>, store: some ReconciliationStore) async throws -> InboxOutcome {
        let pass = MatchingPass(tenant: event.tenant, now: now(), correlationID: event.envelope.correlationid, causationID: event.envelope.id)
        let summary = try await pass.run(around: [seed], store: store)
        if summary.opened + summary.resolved > 0 {
            logger.debug("matched", metadata: ["item": "\(seed.kind)", "opened": "\(summary.opened)", "resolved": "\(summary.resolved)"])
        }
        return .applied
    }
}

extension LedgerTrailEntry {
    /// The provider object a ledger key names: `stripe:po_123:payout` → `po_123`.
    static func subject(ofKey key: String) -> String? {
        let parts = key.split(separator: ":")
        return parts.count >= 3 ? String(parts[1]) : nil
    }
}

/// A consumed event whose field this service cannot read; the event is dead-lettered with it.
struct UnreadableFact: Error, CustomStringConvertible {
    let field: String
    let value: String
    var description: String { "\(field) '\(value)' is not a valid value" }
}
