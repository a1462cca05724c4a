import Contracts
import Foundation
import Hummingbird
import ServiceRuntime

/// Admin routes of people's refunds under `/admin/orgs/{org}/refunds` (seed runbook: "Refunds
/// (HITL)"). Requesting takes owner, admin, finance or support; approving takes finance or
/// owner and another person than the requester; rejecting and replaying take owner, admin or
/// finance; every role reads.
struct RefundRoutes: Sendable {
    let desk: RefundDesk

    struct CreateRequest: Decodable {
        var paymentID: String
        var provider: String?
        var amountMinor: Int64?
        var reason: String
        enum CodingKeys: String, CodingKey { case paymentID = "payment_id", provider, amountMinor = "amount_minor", reason }
    }

    struct RejectRequest: Decodable {
        var reason: String?
    }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.post("refunds") { request, context -> EditedResponse<RefundBody> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .finance, .support], to: "requesting a refund")
            let input = try await RequestInput.body(CreateRequest.self, from: request, allowed: ["payment_id", "provider", "amount_minor", "reason"])
            guard let paymentID = try RequestInput.text(input.paymentID, field: "payment_id", maxCharacters: 200) else {
                throw RequestInput.invalid("payment_id", "must be 1 to 200 characters")
            }
            let provider = try input.provider.map { text throws(Problem) in
                guard let provider = WebhookProvider(rawValue: text) else {
                    throw RequestInput.invalid("provider", "must be one of \(WebhookProvider.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return provider
            }
            if let amount = input.amountMinor, amount <= 0 { throw RequestInput.invalid("amount_minor", "must be greater than 0") }
            guard let reason = try RequestInput.text(input.reason, field: "reason", maxCharacters: 200) else { throw RequestInput.invalid("reason", "must be 1 to 200 characters") }
            let result = try await desk.request(
                org: try principal.tenant(), paymentID: paymentID, provider: provider, amountMinor: input.amountMinor, reason: reason, by: actor(principal, context))
            return EditedResponse(status: .created, response: RefundBody(request: try Self.answer(result)))
        }
        admin.get("refunds") { request, context -> RefundList in
            let org = try context.requirePrincipal().tenant()
            let status = try request.queryText("status", maxCharacters: 30).map { text throws(Problem) in
                guard let status = RefundRequest.Status(rawValue: text) else {
                    throw RequestInput.invalid("status", "must be one of \(RefundRequest.Status.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return status
            }
            let after = try request.queryText("after", maxCharacters: 100)
            let limit = try RequestInput.limit(request)
            let requests = try await desk.list(org: org, status: status, after: after, limit: limit)
            return RefundList(refunds: requests.map(RefundBody.init), nextCursor: requests.count == limit ? requests.last?.id : nil)
        }
        admin.post("refunds/replay-offline") { _, context -> ReplayBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .finance], to: "replaying offline refunds")
            let results = try await desk.replayOffline(org: try principal.tenant(), by: actor(principal, context))
            return ReplayBody(
                submitted: results.filter { $0.status == .submitted || $0.status == .succeeded }.count, stillOffline: results.filter { $0.status == .offline }.count,
                failed: results.filter { $0.status == .failed || ($0.status == .approved && $0.failure != nil) }.count, refunds: results.map(RefundBody.init))
        }
        admin.get("refunds/:id") { _, context -> RefundBody in
            let org = try context.requirePrincipal().tenant()
            let id = try Self.id(context)
            guard let found = try await desk.find(org: org, id: id) else { throw Problem.notFound("no refund request \(id) in this org") }
            return RefundBody(request: found)
        }
        admin.post("refunds/:id/approve") { _, context -> RefundBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .finance], to: "approving a refund")
            return RefundBody(request: try Self.answer(try await desk.approve(org: try principal.tenant(), id: try Self.id(context), by: actor(principal, context))))
        }
        admin.post("refunds/:id/reject") { request, context -> RefundBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .finance], to: "rejecting a refund")
            let input = try await RequestInput.optionalBody(RejectRequest.self, from: request, allowed: ["reason"])
            let reason = try RequestInput.text(input?.reason, field: "reason", maxCharacters: 200)
            return RefundBody(
                request: try Self.answer(try await desk.reject(org: try principal.tenant(), id: try Self.id(context), reason: reason, by: actor(principal, context))))
        }
    }

    private func actor(_ principal: AdminPrincipal, _ context: ServiceRequestContext) -> RefundDesk.Actor {
        RefundDesk.Actor(subject: principal.subject, correlationID: context.correlationID)
    }

    /// The request id in the path; one no request could have (too long, NUL) is unknown: 404.
    private static func id(_ context: ServiceRequestContext) throws -> String {
        guard let id = try? RequestInput.text(context.parameters.get("id"), field: "id", maxCharacters: 100) else {
            throw Problem.notFound("no such refund request in this org")
        }
        return id
    }

    /// The desk's answer, or the Problem each refusal stands for.
    private static func answer(_ result: Result<RefundRequest, RefundDesk.Failure>) throws -> RefundRequest {
        switch result {
        case .success(let request):
            return request
        case .failure(.unknownPayment):
            throw Problem.notFound("no such payment in this org")
        case .failure(.ambiguousPayment(let providers)):
            throw Problem(
                type: "ambiguous-payment", title: "Ambiguous payment", status: .conflict,
                detail: "payments with this id exist at \(providers.map(\.rawValue).joined(separator: ", ")); name the provider")
        case .failure(.unknownRequest):
            throw Problem.notFound("no such refund request in this org")
        case .failure(.refused(let refusal)):
            switch refusal {
            case .paymentNotSucceeded:
                throw Problem(type: "payment-not-succeeded", title: "Payment not refundable", status: .conflict, detail: refusal.description)
            case .exceedsRefundable(_, let refundable):
                throw Problem(
                    type: "refund-exceeds-refundable", title: "Refund exceeds what is refundable", status: .unprocessableContent, detail: refusal.description,
                    extensions: ["field": "amount_minor", "refundable_minor": "\(refundable)"])
            case .nothingToRefund:
                throw Problem(
                    type: "refund-exceeds-refundable", title: "Refund exceeds what is refundable", status: .unprocessableContent, detail: refusal.description,
                    extensions: ["field": "amount_minor", "refundable_minor": "0"])
            case .selfApproval:
                throw Problem(type: "self-approval", title: "Four eyes required", status: .forbidden, detail: refusal.description)
            case .notPending:
                throw Problem(type: "refund-not-pending", title: "Refund already decided", status: .conflict, detail: refusal.description)
            }
        }
    }
}
