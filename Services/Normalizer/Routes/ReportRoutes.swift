import Foundation
import Hummingbird
import ServiceRuntime
import Storage

/// Admin routes under `/admin/orgs/{org}`: raw → canonical lineage of one inbox row, the daily
/// delta report (received vs processed / ignored / failed) and integration freshness.
struct ReportRoutes: Sendable {
    let store: ReportStore
    let freshness: FreshnessRule

    struct Delta: Encodable, ResponseEncodable { var days: [DeltaRow] }

    struct Freshness: Encodable {
        var provider: String
        var lastEventAt: String
        var ageSeconds: Int
        var state: FreshnessRule.State
        enum CodingKeys: String, CodingKey { case provider, lastEventAt = "last_event_at", ageSeconds = "age_seconds", state }
    }

    struct FreshnessList: Encodable, ResponseEncodable { var providers: [Freshness] }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("lineage/:inboxID") { _, context -> Lineage in
            let tenant = try context.requirePrincipal().tenant()
            let inboxID = context.parameters.get("inboxID") ?? ""
            guard let lineage = try await store.lineage(org: tenant, inboxID: inboxID) else {
                throw Problem.notFound("the normalizer has not seen inbox entry \(inboxID)")
            }
            return lineage
        }
        admin.get("reports/delta") { request, context -> Delta in
            let tenant = try context.requirePrincipal().tenant()
            let days = min(max(request.uri.queryParameters.get("days", as: Int.self) ?? 7, 1), 90)
            return Delta(days: try await store.delta(org: tenant, days: days))
        }
        admin.get("reports/freshness") { _, context -> FreshnessList in
            let tenant = try context.requirePrincipal().tenant()
            let providers = try await store.activity(org: tenant).map { activity in
                Freshness(
                    provider: activity.provider, lastEventAt: activity.lastEventAt, ageSeconds: activity.ageSeconds,
                    state: freshness.state(ageSeconds: activity.ageSeconds))
            }
            return FreshnessList(providers: providers)
        }
    }
}

extension Lineage: ResponseEncodable {}
