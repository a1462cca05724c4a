import Contracts
import Foundation
import Hummingbird
import ServiceRuntime

/// Admin routes of payouts under `/admin/orgs/{org}`: `GET payouts` and `GET payouts/report`
/// (seed: "Run the payout report"): counts and amounts by status and currency over
/// [from, to), and the 10 most recent. Every role reads.
struct PayoutRoutes: Sendable {
    let queries: FinanceQueries

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("payouts") { request, context -> PayoutList in
            let org = try context.requirePrincipal().tenant()
            let after = try request.queryText("after", maxCharacters: 400)
            let limit = try RequestInput.limit(request)
            let payouts = try await queries.payouts(org: org, from: nil, to: nil, after: after, limit: limit)
            return PayoutList(
                payouts: payouts.map(PayoutBody.init), nextCursor: payouts.count == limit ? payouts.last.map { "\($0.provider.rawValue):\($0.payoutID)" } : nil)
        }
        admin.get("payouts/report") { request, context -> PayoutReportBody in
            let org = try context.requirePrincipal().tenant()
            guard let from = try RequestInput.time(request, "from") else { throw RequestInput.invalid("from", "is required") }
            guard let to = try RequestInput.time(request, "to") else { throw RequestInput.invalid("to", "is required") }
            // [from, to) with to at or before from is an empty period: an empty report.
            // A report covers what one page of rows can hold; a larger period is refused, not cut.
            let payouts = try await queries.payouts(org: org, from: from, to: to, after: nil, limit: 100_001)
            guard payouts.count <= 100_000 else { throw RequestInput.invalid("from", "the period holds over 100000 payouts; ask for a shorter one") }
            let report = PayoutReport(payouts)
            return PayoutReportBody(
                from: RFC3339.string(from), to: RFC3339.string(to),
                groups: report.groups.map { .init(status: $0.status.rawValue, currency: $0.currency.rawValue, count: $0.count, amountMinor: $0.amountMinor) },
                recent: report.recent.map(PayoutBody.init))
        }
    }
}
