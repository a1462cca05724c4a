import Contracts
import Foundation
import Hummingbird
import ServiceRuntime

/// Admin routes of the plan catalog and the price mappings: every role reads; owner, admin and
/// finance change them (audited). `PUT …/plans/{code}` answers 201 with a new version, or 200
/// with the newest one when the body changes nothing.
struct CatalogRoutes: Sendable {
    let queries: BillingQueries
    let commands: CatalogCommands

    struct PlanRequest: Decodable {
        /// Decoded strictly: a member other than `unit` and `count` is refused.
        struct Interval: Decodable {
            var unit: String?
            var count: Int?
            enum CodingKeys: String, CodingKey, CaseIterable { case unit, count }

            init(from decoder: any Decoder) throws {
                let members = try decoder.container(keyedBy: AnyMember.self)
                if let unknown = members.allKeys.first(where: { CodingKeys(stringValue: $0.stringValue) == nil }) {
                    throw DecodingError.dataCorruptedError(forKey: unknown, in: members, debugDescription: "interval.\(unknown.stringValue) is not a member of interval")
                }
                let container = try decoder.container(keyedBy: CodingKeys.self)
                unit = try container.decodeIfPresent(String.self, forKey: .unit)
                count = try container.decodeIfPresent(Int.self, forKey: .count)
            }
        }
        var name: String?
        var interval: Interval?
        var prices: [String: Int64]?
        var limits: [String: Int64]?
    }

    struct MappingRequest: Decodable {
        var provider: String?
        var providerPlan: String?
        var planCode: String?
        enum CodingKeys: String, CodingKey { case provider, providerPlan = "provider_plan", planCode = "plan_code" }
    }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("plans") { _, context -> JSONAnswer<PlanList> in
            JSONAnswer(body: PlanList(plans: try await queries.plans(org: try context.requirePrincipal().tenant())))
        }
        admin.get("plans/:code") { _, context -> JSONAnswer<PlanList> in
            let org = try context.requirePrincipal().tenant()
            guard let code = context.parameters.get("code"), PlanCatalog.isCode(code) else { throw Problem.notFound("no such plan in this org") }
            let versions = try await queries.plan(org: org, code: code)
            guard !versions.isEmpty else { throw Problem.notFound("no plan \(code) in this org") }
            return JSONAnswer(body: PlanList(plans: versions))
        }
        admin.put("plans/:code") { request, context -> JSONAnswer<PlanVersion> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, SubscriptionRoutes.changers, to: "changing a plan")
            guard let code = context.parameters.get("code"), PlanCatalog.isCode(code) else {
                throw RequestInput.invalid("code", "must be a plan code: a lowercase letter, then up to 63 of a-z, 0-9, _ . -")
            }
            let input = try await RequestInput.body(PlanRequest.self, from: request, allowed: ["name", "interval", "prices", "limits"])
            let draft = try Self.draft(input)
            let result = try await commands.revisePlan(org: try principal.tenant(), code: code, draft: draft, by: SubscriptionRoutes.actor(principal, context))
            return JSONAnswer(status: result.created ? .created : .ok, body: result.plan)
        }
        admin.get("price-mappings") { _, context -> JSONAnswer<MappingList> in
            JSONAnswer(body: MappingList(mappings: try await queries.mappings(org: try context.requirePrincipal().tenant()).map(MappingList.Mapping.init)))
        }
        admin.put("price-mappings") { request, context -> JSONAnswer<MappingAnswer> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, SubscriptionRoutes.changers, to: "mapping a provider price")
            let input = try await RequestInput.body(MappingRequest.self, from: request, allowed: ["provider", "provider_plan", "plan_code"])
            guard let providerText = input.provider, let provider = WebhookProvider(rawValue: providerText) else {
                throw RequestInput.invalid("provider", "must be one of \(WebhookProvider.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let providerPlan = try RequestInput.text(input.providerPlan, field: "provider_plan", maxCharacters: 200) else {
                throw RequestInput.invalid("provider_plan", "must be 1 to 200 characters")
            }
            guard let planCode = input.planCode, PlanCatalog.isCode(planCode) else {
                throw RequestInput.invalid("plan_code", "must be a plan code: a lowercase letter, then up to 63 of a-z, 0-9, _ . -")
            }
            switch try await commands.map(
                org: try principal.tenant(), provider: provider, providerPlan: providerPlan, to: planCode, by: SubscriptionRoutes.actor(principal, context))
            {
            case .success(let result):
                return JSONAnswer(body: MappingAnswer(mapping: MappingList.Mapping(result.mapping), subscriptionsMapped: result.mapped))
            case .failure(.unknownPlan(let code)):
                throw Problem.notFound("no plan \(code) in this org's catalog")
            }
        }
    }

    /// The plan a request describes, or the first field that breaks its rule.
    static func draft(_ input: PlanRequest) throws(Problem) -> PlanDraft {
        guard let name = try RequestInput.text(input.name, field: "name", maxCharacters: 200) else { throw RequestInput.invalid("name", "must be 1 to 200 characters") }
        guard let unitText = input.interval?.unit, let unit = BillingInterval.Unit(rawValue: unitText) else {
            throw RequestInput.invalid("interval.unit", "must be one of day, week, month, year")
        }
        let count = input.interval?.count ?? 1
        guard (1...36).contains(count) else { throw RequestInput.invalid("interval.count", "must be 1 to 36") }
        let prices = input.prices ?? [:]
        guard (1...20).contains(prices.count) else { throw RequestInput.invalid("prices", "must name 1 to 20 currencies") }
        for (currency, amount) in prices {
            guard CurrencyCode(rawValue: currency) != nil else { throw RequestInput.invalid("prices", "\(currency.prefix(10)) is not an ISO 4217 code (three capital letters)") }
            guard amount >= 0 else { throw RequestInput.invalid("prices.\(currency)", "must be 0 or more minor units") }
        }
        let limits = input.limits ?? [:]
        guard limits.count <= 50 else { throw RequestInput.invalid("limits", "must name at most 50 metrics") }
        for (metric, limit) in limits {
            guard PlanCatalog.isCode(metric) else { throw RequestInput.invalid("limits", "metric names are a lowercase letter, then up to 63 of a-z, 0-9, _ . -") }
            guard limit >= 0 else { throw RequestInput.invalid("limits.\(metric)", "must be 0 or more") }
        }
        return PlanDraft(name: name, interval: BillingInterval(unit: unit, count: count), prices: prices, limits: limits)
    }
}

/// Any member name of a JSON object, for decoders that refuse members they do not know.
struct AnyMember: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
