import Contracts
import Foundation
import Hummingbird
import ServiceRuntime

/// Admin routes of payments under `/admin/orgs/{org}`: `GET payments` (by status, keyset by
/// provider and id) and `GET payments/{provider}/{payment_id}` with its timeline (every
/// canonical event it received and the transaction each posted). Every role reads.
struct PaymentRoutes: Sendable {
    let queries: FinanceQueries

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("payments") { request, context -> PaymentList in
            let org = try context.requirePrincipal().tenant()
            let status = try request.queryText("status", maxCharacters: 30).map { text throws(Problem) in
                guard let status = PaymentStatus(rawValue: text) else {
                    throw RequestInput.invalid("status", "must be one of \(PaymentStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return status
            }
            let after = try request.queryText("after", maxCharacters: 400)
            let limit = try RequestInput.limit(request)
            let rows = try await queries.payments(org: org, status: status, after: after, limit: limit)
            return PaymentList(
                payments: rows.map { PaymentBody(record: $0.record, updatedAt: $0.updatedAt, timeline: nil) },
                nextCursor: rows.count == limit ? rows.last.map { $0.record.key.description } : nil)
        }
        admin.get("payments/:provider/:payment_id") { _, context -> PaymentBody in
            let org = try context.requirePrincipal().tenant()
            guard let provider = context.parameters.get("provider").flatMap(WebhookProvider.init(rawValue:)) else {
                throw RequestInput.invalid("provider", "must be one of \(WebhookProvider.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let paymentID = try RequestInput.text(context.parameters.get("payment_id"), field: "payment_id", maxCharacters: 200) ?? ""
            guard let found = try await queries.payment(org: org, PaymentKey(provider: provider, paymentID: paymentID)) else {
                throw Problem.notFound("no \(provider.rawValue) payment \(paymentID) in this org")
            }
            return PaymentBody(record: found.record, updatedAt: found.updatedAt, timeline: found.timeline)
        }
    }
}
