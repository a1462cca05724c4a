import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// People's refund workflow (the seed runbook's "Refunds (HITL)"): request, four-eyes approval,
/// submission to the provider, rejection, and the replay of what could not be submitted.
///
/// Guarantees:
/// - Requests for one payment never together exceed its capture: each request is decided with
///   the payment row locked (`RefundRules.refundable`).
/// - The approval is committed and audited before the provider is called; the submission's
///   result is recorded and audited after. A crash in between leaves the request `approved`
///   without a provider id, which `replayOffline` submits again under the same idempotency key
///   (the request id), so the provider refunds once.
/// - No money is posted here: the ledger posts when the provider's refund webhook arrives.
struct RefundDesk: Sendable {
    let queries: FinanceQueries
    let audit: AuditLog
    let clients: ProviderRefundClients
    let logger: Logger
    let now: @Sendable () -> Date

    struct Actor: Sendable {
        var subject: String
        var correlationID: String?
    }

    enum Failure: Error, Equatable {
        case unknownPayment
        case ambiguousPayment([WebhookProvider])
        case unknownRequest
        case refused(RefundRefusal)
    }

    func request(
        org: TenantID, paymentID: String, provider: WebhookProvider?, amountMinor: Int64?, reason: String, by actor: Actor
    ) async throws -> Result<
        RefundRequest, Failure
    > {
        let key: PaymentKey
        if let provider {
            key = PaymentKey(provider: provider, paymentID: paymentID)
        } else {
            let found = try await queries.payments(org: org, id: paymentID)
            guard let only = found.first else { return .failure(.unknownPayment) }
            guard found.count == 1 else { return .failure(.ambiguousPayment(found.map(\.provider))) }
            key = only
        }
        return try await queries.inTenant(org) { connection in
            let store = RefundRequestStore(schema: queries.schema, connection: connection, logger: logger)
            guard let payment = try await store.lockedPayment(key) else { return .failure(.unknownPayment) }
            let committed = try await store.committedAmounts(key)
            let refundable = RefundRules.refundable(payment: payment, unrequestedRefundedMinor: committed.unrequestedRefunded, heldByRequestsMinor: committed.heldByRequests)
            let request: RefundRequest
            do throws(RefundRefusal) {
                request = try RefundRules.request(
                    id: "rfr_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""), payment: payment, amountMinor: amountMinor, reason: reason,
                    refundableMinor: refundable, by: actor.subject, now: LedgerSeal.truncated(now()))
            } catch {
                return .failure(.refused(error))
            }
            try await store.save(request)
            try await audit.record(
                org: org, actor: actor.subject, action: "refund.request", target: "refund:\(request.id)", before: RefundRequest?.none, after: request,
                correlationID: actor.correlationID, on: connection, logger: logger)
            return .success(request)
        }
    }

    func approve(org: TenantID, id: String, by actor: Actor) async throws -> Result<RefundRequest, Failure> {
        let approved = try await decide(org: org, id: id, by: actor, action: "refund.approve") { request throws(RefundRefusal) in
            try RefundRules.approve(request, by: actor.subject, now: LedgerSeal.truncated(now()))
        }
        guard case .success(let request) = approved else { return approved }
        return .success(try await submit(org: org, request, by: actor))
    }

    func reject(org: TenantID, id: String, reason: String?, by actor: Actor) async throws -> Result<RefundRequest, Failure> {
        try await decide(org: org, id: id, by: actor, action: "refund.reject") { request throws(RefundRefusal) in
            try RefundRules.reject(request, by: actor.subject, reason: reason, now: LedgerSeal.truncated(now()))
        }
    }

    func list(org: TenantID, status: RefundRequest.Status?, after: String?, limit: Int) async throws -> [RefundRequest] {
        try await queries.inTenant(org) { connection in
            try await RefundRequestStore(schema: queries.schema, connection: connection, logger: logger).list(status: status, after: after, limit: limit)
        }
    }

    func find(org: TenantID, id: String) async throws -> RefundRequest? {
        try await queries.inTenant(org) { connection in
            try await RefundRequestStore(schema: queries.schema, connection: connection, logger: logger).request(id, lock: false)
        }
    }

    /// Submits every request that is offline or approved-but-unsent, once each, with the
    /// clients configured now.
    func replayOffline(org: TenantID, by actor: Actor) async throws -> [RefundRequest] {
        let waiting = try await queries.inTenant(org) { connection in
            try await RefundRequestStore(schema: queries.schema, connection: connection, logger: logger).awaitingSubmission(limit: 500)
        }
        var results: [RefundRequest] = []
        for request in waiting { results.append(try await submit(org: org, request, by: actor)) }
        return results
    }

    private func decide(
        org: TenantID, id: String, by actor: Actor, action: String, _ rule: @Sendable (RefundRequest) throws(RefundRefusal) -> RefundRequest
    ) async throws -> Result<RefundRequest, Failure> {
        try await queries.inTenant(org) { connection in
            let store = RefundRequestStore(schema: queries.schema, connection: connection, logger: logger)
            guard let before = try await store.request(id, lock: true) else { return .failure(.unknownRequest) }
            let after: RefundRequest
            do throws(RefundRefusal) { after = try rule(before) } catch { return .failure(.refused(error)) }
            try await store.save(after)
            try await audit.record(
                org: org, actor: actor.subject, action: action, target: "refund:\(id)", before: before, after: after, correlationID: actor.correlationID,
                on: connection, logger: logger)
            return .success(after)
        }
    }

    /// Calls the provider for an approved or offline request and records what it answered.
    private func submit(org: TenantID, _ request: RefundRequest, by actor: Actor) async throws -> RefundRequest {
        let providerRequest = ProviderRefundRequest(
            refundID: request.id, provider: request.payment.provider, paymentID: request.payment.paymentID, amount: request.amount, reason: request.reason,
            requestID: actor.correlationID ?? "none")
        let outcome: Result<ProviderRefundResult, RefundSubmissionFailure>
        do throws(RefundSubmissionFailure) {
            outcome = .success(try await clients.client(for: request.payment.provider).submit(providerRequest))
        } catch {
            outcome = .failure(error)
        }
        return try await queries.inTenant(org) { connection in
            let store = RefundRequestStore(schema: queries.schema, connection: connection, logger: logger)
            // The webhook may have settled the request while the provider was answering.
            guard let current = try await store.request(request.id, lock: true) else { return request }
            let next: RefundRequest
            switch outcome {
            case .success(let result): next = RefundRules.submitted(current, result: result, now: LedgerSeal.truncated(now()))
            case .failure(let failure): next = RefundRules.unreachable(current, failure: failure.description, now: LedgerSeal.truncated(now()))
            }
            try await store.save(next)
            try await audit.record(
                org: org, actor: actor.subject, action: "refund.submit", target: "refund:\(request.id)", before: current, after: next,
                correlationID: actor.correlationID, on: connection, logger: logger)
            return next
        }
    }
}
