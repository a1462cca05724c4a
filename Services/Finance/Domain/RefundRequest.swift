import Contracts
import Foundation

/// A refund a person asked for (the seed runbook's "Refunds (HITL)"): four eyes before any money moves.
///
/// `pending_approval` → `rejected` | `approved` → `submitted` | `offline` | `failed`;
/// `submitted` | `offline` | `approved` → `succeeded` when the provider's refund webhook
/// arrives and is matched to it. `approved` with a `failure` is a submission that could not
/// reach the provider; `refunds replay-offline` submits it again under the same idempotency key.
struct RefundRequest: Hashable, Sendable, Codable {
    enum Status: String, Codable, Sendable, CaseIterable {
        case pendingApproval = "pending_approval", approved, rejected, submitted, offline, failed, succeeded

        /// Whether the request still counts against what the payment can refund.
        var holdsAmount: Bool { self != .rejected && self != .failed }
    }

    var id: String
    var payment: PaymentKey
    var amount: Money
    var reason: String
    var status: Status
    var requestedBy: String
    var decidedBy: String?
    var providerRefundID: String?
    var failure: String?
    var createdAt: Date
    var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, payment, amount, reason, status, requestedBy = "requested_by", decidedBy = "decided_by"
        case providerRefundID = "provider_refund_id", failure, createdAt = "created_at", updatedAt = "updated_at"
    }
}

/// Why a person's refund action was refused; each has a stable Problem type.
enum RefundRefusal: Error, Equatable, CustomStringConvertible {
    case paymentNotSucceeded(status: PaymentStatus)
    case exceedsRefundable(requested: Int64, refundable: Int64)
    case nothingToRefund
    case selfApproval
    case notPending(status: RefundRequest.Status)

    var description: String {
        switch self {
        case .paymentNotSucceeded(let status): "the payment is \(status.rawValue); only a captured payment can be refunded"
        case .exceedsRefundable(let requested, let refundable): "amount_minor \(requested) exceeds what is still refundable (\(refundable))"
        case .nothingToRefund: "nothing is left to refund on this payment"
        case .selfApproval: "the person who requested a refund cannot approve it"
        case .notPending(let status): "the refund request is \(status.rawValue), not pending_approval"
        }
    }
}

/// The refund request decider: the rules a person's refund actions follow. Pure; the store
/// calls it with the payment row locked, so two concurrent requests see each other's amounts.
enum RefundRules {
    /// What may still be requested: the capture minus the refunds the provider made without a
    /// request and the requests still holding an amount.
    static func refundable(payment: PaymentRecord, unrequestedRefundedMinor: Int64, heldByRequestsMinor: Int64) -> Int64 {
        max(0, payment.capturedMinor - unrequestedRefundedMinor - heldByRequestsMinor)
    }

    /// A new request for `amountMinor` (all that is refundable when nil).
    static func request(
        id: String, payment: PaymentRecord, amountMinor: Int64?, reason: String, refundableMinor: Int64, by actor: String, now: Date
    ) throws(RefundRefusal) -> RefundRequest {
        guard payment.isCaptured, let currency = payment.currency, [.succeeded, .partiallyRefunded].contains(payment.status) else {
            throw .paymentNotSucceeded(status: payment.status)
        }
        guard refundableMinor > 0 else { throw .nothingToRefund }
        let amount = amountMinor ?? refundableMinor
        guard amount <= refundableMinor else { throw .exceedsRefundable(requested: amount, refundable: refundableMinor) }
        return RefundRequest(
            id: id, payment: payment.key, amount: Money(amountMinor: amount, currency: currency), reason: reason, status: .pendingApproval,
            requestedBy: actor, decidedBy: nil, providerRefundID: nil, failure: nil, createdAt: now, updatedAt: now)
    }

    /// Approval by a second person (the route checks the role: finance or owner).
    static func approve(_ request: RefundRequest, by actor: String, now: Date) throws(RefundRefusal) -> RefundRequest {
        guard request.status == .pendingApproval else { throw .notPending(status: request.status) }
        guard actor != request.requestedBy else { throw .selfApproval }
        var approved = request
        approved.status = .approved
        approved.decidedBy = actor
        approved.updatedAt = now
        return approved
    }

    static func reject(_ request: RefundRequest, by actor: String, reason: String?, now: Date) throws(RefundRefusal) -> RefundRequest {
        guard request.status == .pendingApproval else { throw .notPending(status: request.status) }
        var rejected = request
        rejected.status = .rejected
        rejected.decidedBy = actor
        rejected.failure = reason
        rejected.updatedAt = now
        return rejected
    }

    /// Whether a request may be (re)submitted to the provider: approved and not yet accepted, or
    /// recorded offline.
    static func awaitsSubmission(_ request: RefundRequest) -> Bool {
        (request.status == .approved && request.providerRefundID == nil) || request.status == .offline
    }

    /// What a submission's result does to the request.
    static func submitted(_ request: RefundRequest, result: ProviderRefundResult, now: Date) -> RefundRequest {
        var next = request
        next.updatedAt = now
        // Settled by the provider's webhook meanwhile: nothing the submission says undoes that.
        guard request.status != .succeeded else {
            if case .submitted(let providerRefundID) = result, next.providerRefundID == nil { next.providerRefundID = providerRefundID }
            return next
        }
        switch result {
        case .submitted(let providerRefundID):
            next.status = .submitted
            next.providerRefundID = providerRefundID
            next.failure = nil
        case .offline:
            next.status = .offline
            next.failure = nil
        case .refused(let reason):
            next.status = .failed
            next.failure = reason
        }
        return next
    }

    /// A submission that did not reach the provider: the request stays approved, with the reason.
    static func unreachable(_ request: RefundRequest, failure: String, now: Date) -> RefundRequest {
        var next = request
        next.failure = failure
        next.updatedAt = now
        return next
    }

    /// The request a provider refund settles, among the payment's requests: the one that
    /// carries its refund id, else the oldest in flight with the same amount. nil: the provider
    /// refunded without a request (it is posted and flagged as provider-initiated).
    static func match(refundID: String, amount: Money, among requests: [RefundRequest]) -> RefundRequest? {
        if let exact = requests.first(where: { $0.providerRefundID == refundID }) { return exact }
        let inFlight: Set<RefundRequest.Status> = [.approved, .submitted, .offline]
        return
            requests
            .filter { inFlight.contains($0.status) && $0.providerRefundID == nil && $0.amount == amount }
            .min { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    static func settled(_ request: RefundRequest, refundID: String, now: Date) -> RefundRequest {
        var next = request
        next.status = .succeeded
        next.providerRefundID = refundID
        next.failure = nil
        next.updatedAt = now
        return next
    }
}
