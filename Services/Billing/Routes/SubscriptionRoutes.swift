import Contracts
import Foundation
import Hummingbird
import ServiceRuntime

/// Admin routes of subscriptions under `/admin/orgs/{org}/…`: every role reads; pausing,
/// resuming and correcting the plan take owner, admin or finance, and are audited.
struct SubscriptionRoutes: Sendable {
    let queries: BillingQueries
    let commands: SubscriptionCommands

    static let changers: Set<AdminRole> = [.owner, .admin, .finance]

    struct ReasonRequest: Decodable {
        var reasonCode: String?
        enum CodingKeys: String, CodingKey { case reasonCode = "reason_code" }
    }

    struct PlanRequest: Decodable {
        var planCode: String?
        var version: Int?
        var reason: String?
        enum CodingKeys: String, CodingKey { case planCode = "plan_code", version, reason }
    }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("subscriptions") { request, context -> JSONAnswer<SubscriptionList> in
            let org = try context.requirePrincipal().tenant()
            let status = try request.queryText("status", maxCharacters: 20).map { text throws(Problem) in
                guard let status = BillingStatus(rawValue: text) else {
                    throw RequestInput.invalid("status", "must be one of \(BillingStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return status
            }
            let plan = try request.queryText("plan_code", maxCharacters: 64)
            let customer = try request.queryText("customer_ref", maxCharacters: 200)
            let unmapped = try Self.flag(request, "unmapped")
            let after = try Self.cursor(request)
            let limit = try RequestInput.limit(request)
            let rows = try await queries.subscriptions(org: org, status: status, planCode: plan, customerRef: customer, unmapped: unmapped, after: after, limit: limit)
            return JSONAnswer(
                body: SubscriptionList(
                    subscriptions: rows.map { SubscriptionBody($0) }, nextCursor: rows.count == limit ? rows.last.map { Self.text($0.stored.id) } : nil))
        }
        admin.get("subscriptions/unmapped") { _, context -> JSONAnswer<UnmappedList> in
            let org = try context.requirePrincipal().tenant()
            let plans = try await queries.unmappedPlans(org: org)
            return JSONAnswer(
                body: UnmappedList(
                    unmapped: plans.map {
                        UnmappedList.Entry(provider: $0.provider.rawValue, providerPlan: $0.providerPlan, subscriptions: $0.subscriptions, firstSeen: $0.firstSeen)
                    }))
        }
        admin.get("subscriptions/:id") { _, context -> JSONAnswer<SubscriptionBody> in
            let org = try context.requirePrincipal().tenant()
            guard let found = try await queries.subscription(org: org, id: try Self.id(context)) else { throw Problem.notFound("no such subscription in this org") }
            return JSONAnswer(body: SubscriptionBody(found.row, history: found.history))
        }
        admin.post("subscriptions/:id/pause") { request, context -> JSONAnswer<StatusBody> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, Self.changers, to: "pausing a subscription")
            let reason = try await Self.reasonCode(request)
            let result = try await commands.pause(org: try principal.tenant(), id: try Self.id(context), reasonCode: reason, by: Self.actor(principal, context))
            return JSONAnswer(body: StatusBody(try Self.answer(result)))
        }
        admin.post("subscriptions/:id/resume") { request, context -> JSONAnswer<StatusBody> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, Self.changers, to: "resuming a subscription")
            let reason = try await Self.reasonCode(request)
            let result = try await commands.resume(org: try principal.tenant(), id: try Self.id(context), reasonCode: reason, by: Self.actor(principal, context))
            return JSONAnswer(body: StatusBody(try Self.answer(result)))
        }
        admin.post("subscriptions/:id/plan") { request, context -> JSONAnswer<StatusBody> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, Self.changers, to: "correcting a subscription's plan")
            let input = try await RequestInput.body(PlanRequest.self, from: request, allowed: ["plan_code", "version", "reason"])
            guard let code = input.planCode, PlanCatalog.isCode(code) else {
                throw RequestInput.invalid("plan_code", "must be a plan code: a lowercase letter, then up to 63 of a-z, 0-9, _ . -")
            }
            if let version = input.version, version < 1 { throw RequestInput.invalid("version", "must be 1 or more") }
            guard let reason = try RequestInput.text(input.reason, field: "reason", maxCharacters: 500) else { throw RequestInput.invalid("reason", "must be 1 to 500 characters") }
            let result = try await commands.correctPlan(
                org: try principal.tenant(), id: try Self.id(context), planCode: code, version: input.version, reason: reason, by: Self.actor(principal, context))
            return JSONAnswer(body: StatusBody(try Self.answer(result)))
        }
        admin.get("billing/status") { request, context -> JSONAnswer<StatusList> in
            let org = try context.requirePrincipal().tenant()
            let customer = try request.queryText("customer_ref", maxCharacters: 200)
            let subscription = try request.queryText("subscription_id", maxCharacters: 200)
            let after = try Self.cursor(request)
            let limit = try RequestInput.limit(request)
            var rows: [SubscriptionRow] = []
            if let subscription {
                if let id = UUID(uuidString: subscription), let found = try await queries.subscription(org: org, id: id) { rows.append(found.row) }
                rows += try await queries.subscriptions(org: org, providerSubscriptionID: subscription)
                rows = rows.filter { row in customer.map { row.stored.projection.customerRef == $0 } ?? true }
                return JSONAnswer(body: StatusList(subscriptions: rows.map { StatusBody($0.stored) }, nextCursor: nil))
            }
            rows = try await queries.subscriptions(org: org, status: nil, planCode: nil, customerRef: customer, unmapped: false, after: after, limit: limit)
            return JSONAnswer(
                body: StatusList(subscriptions: rows.map { StatusBody($0.stored) }, nextCursor: rows.count == limit ? rows.last.map { Self.text($0.stored.id) } : nil))
        }
    }

    // MARK: Reading the request

    static func actor(_ principal: AdminPrincipal, _ context: ServiceRequestContext) -> SubscriptionCommands.Actor {
        SubscriptionCommands.Actor(subject: principal.subject, correlationID: context.correlationID ?? UUID().uuidString.lowercased())
    }

    /// The subscription id in the path; anything that is not one of billing's ids is unknown: 404.
    static func id(_ context: ServiceRequestContext) throws -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else { throw Problem.notFound("no such subscription in this org") }
        return id
    }

    /// A subscription id as the API writes it: lowercase.
    static func text(_ id: UUID) -> String { id.uuidString.lowercased() }

    /// The `after` cursor: a subscription id this API returned as `next_cursor`.
    static func cursor(_ request: Request) throws(Problem) -> UUID? {
        try request.queryText("after", maxCharacters: 36).map { text throws(Problem) in
            guard let id = UUID(uuidString: text) else { throw RequestInput.invalid("after", "must be a next_cursor this API returned") }
            return id
        }
    }

    static func flag(_ request: Request, _ name: String) throws(Problem) -> Bool {
        switch try request.queryText(name, maxCharacters: 5) {
        case nil, "false": return false
        case "true": return true
        default: throw RequestInput.invalid(name, "must be true or false")
        }
    }

    /// A reason code: 1 to 64 characters of a-z, 0-9, `_`, `.`, `-`.
    static func reasonCode(_ request: Request) async throws -> String {
        let input = try await RequestInput.body(ReasonRequest.self, from: request, allowed: ["reason_code"])
        guard let code = input.reasonCode, !code.isEmpty, code.count <= 64 else { throw RequestInput.invalid("reason_code", "must be 1 to 64 characters") }
        guard code.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "." || $0 == "-" }) else {
            throw RequestInput.invalid("reason_code", "must hold only a-z, 0-9, _ . -")
        }
        return code
    }

    /// The command's subscription, or the Problem its refusal stands for.
    static func answer(_ result: Result<StoredSubscription, SubscriptionCommands.Failure>) throws -> StoredSubscription {
        switch result {
        case .success(let stored): return stored
        case .failure(.unknownSubscription): throw Problem.notFound("no such subscription in this org")
        case .failure(.unknownPlan(let plan)):
            throw Problem.notFound("no plan \(plan) in this org's catalog")
        case .failure(.refused(let refusal)):
            switch refusal {
            case .alreadyPaused:
                throw Problem(type: "subscription-already-paused", title: "Already paused", status: .conflict, detail: "the subscription is paused already; resume it first")
            case .notPaused:
                throw Problem(type: "subscription-not-paused", title: "Not paused", status: .conflict, detail: "only a paused subscription can be resumed")
            case .canceled:
                throw Problem(type: "subscription-canceled", title: "Subscription ended", status: .conflict, detail: "the subscription is canceled")
            case .stale, .unknownSubscription:
                throw Problem.notFound("no such subscription in this org")
            }
        }
    }
}
