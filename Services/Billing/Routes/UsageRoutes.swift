import Contracts
import Foundation
import Hummingbird
import ServiceRuntime

/// `GET …/billing/usage/report?month=YYYY-MM[&subscription_id=]` (owner, admin, finance): per
/// subscription and metric, the stored counter, the count from the usage events themselves, the
/// plan's limit, an overage flag, and `drift_detected` where counter and count disagree.
struct UsageRoutes: Sendable {
    let queries: BillingQueries

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("billing/usage/report") { request, context -> JSONAnswer<UsageReport> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .finance], to: "reading the usage report")
            guard let month = try request.queryText("month", maxCharacters: 7), UsageRules.isMonth(month) else {
                throw RequestInput.invalid("month", "must be a month YYYY-MM, e.g. 2026-11")
            }
            let subscription = try request.queryText("subscription_id", maxCharacters: 200)
            let figures = try await queries.usage(org: try principal.tenant(), month: month, subscription: subscription)
            let lines = figures.map { figure in
                UsageReport.Subscription(
                    provider: figure.subscription.provider.rawValue, subscriptionID: figure.subscription.subscriptionID, planCode: figure.planCode,
                    planVersion: figure.planVersion, metrics: UsageRules.report(recorded: figure.recorded, counted: figure.counted, limits: figure.limits))
            }
            return JSONAnswer(body: UsageReport(month: month, subscriptions: lines, driftDetected: lines.contains { $0.metrics.contains(where: \.driftDetected) }))
        }
    }
}

struct UsageReport: Encodable, Sendable {
    struct Subscription: Encodable, Sendable {
        var provider: String
        var subscriptionID: String
        var planCode: String?
        var planVersion: Int?
        var metrics: [UsageReportLine]
        enum CodingKeys: String, CodingKey { case provider, subscriptionID = "subscription_id", planCode = "plan_code", planVersion = "plan_version", metrics }
    }
    var month: String
    var subscriptions: [Subscription]
    /// Any metric of any subscription drifted.
    var driftDetected: Bool
    enum CodingKeys: String, CodingKey { case month, subscriptions, driftDetected = "drift_detected" }
}
