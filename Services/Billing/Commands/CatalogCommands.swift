import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// What people change in an org's catalog and policies: plans (a change is a new version),
/// price mappings (a new mapping also gives the subscriptions waiting on it their plan) and the
/// overdue policy. Each runs in one tenant transaction with its audit row.
struct CatalogCommands: Sendable {
    let queries: BillingQueries
    let audit: AuditLog
    let logger: Logger
    let now: @Sendable () -> Date

    /// Creates the plan, or its next version when `draft` differs from the newest; `created` is
    /// false when nothing changed (the newest version is returned).
    func revisePlan(org: TenantID, code: String, draft: PlanDraft, by actor: SubscriptionCommands.Actor) async throws -> (plan: PlanVersion, created: Bool) {
        try await queries.inTenant(org) { _, connection in
            let newest = try await queries.newestPlan(code: code, connection: connection)
            // `revise` is nil only when a newest version exists and the draft matches it.
            guard let next = PlanCatalog.revise(newest, code: code, with: draft, now: BillingClock.instant(now())) else {
                guard let newest else { throw UnreadableRow(table: "plan_versions", reason: "no plan to keep") }
                return (newest, false)
            }
            try await queries.insert(next, by: actor.subject, connection: connection)
            try await audit.record(
                org: org, actor: actor.subject, action: "plan.revise", target: "plan:\(code)", before: newest.map(PlanAudit.init), after: PlanAudit(next),
                correlationID: actor.correlationID, on: connection, logger: logger)
            return (next, true)
        }
    }

    enum MappingFailure: Error, Equatable { case unknownPlan(String) }

    /// Maps a provider's price or plan id to `planCode`; the unmapped subscriptions on that
    /// provider plan get the plan's newest version (through the subscription rules, so their
    /// entitlements follow). Returns the mapping and how many subscriptions it mapped.
    func map(
        org: TenantID, provider: WebhookProvider, providerPlan: String, to planCode: String, by actor: SubscriptionCommands.Actor
    ) async throws
        -> Result<(mapping: PriceMapping, mapped: Int), MappingFailure>
    {
        try await queries.inTenant(org) { store, connection in
            guard let plan = try await queries.planVersions(code: planCode, connection: connection).last else { return .failure(.unknownPlan(planCode)) }
            let time = BillingClock.instant(now())
            let mapping = PriceMapping(provider: provider, providerPlan: providerPlan, planCode: planCode, updatedAt: time, updatedBy: actor.subject)
            let previous = try await queries.upsert(mapping, connection: connection)
            var mapped = 0
            let cause = ChangeCause(eventID: nil, actor: actor.subject, correlationID: actor.correlationID, causationID: "request:\(actor.correlationID)")
            let assignment = PlanAssignment(code: plan.code, version: plan.version, source: .mapping, correctedAt: nil, reason: nil, actor: nil)
            for reference in try await queries.unmappedSubscriptions(provider: provider, providerPlan: providerPlan, connection: connection) {
                if case .success = try await SubscriptionUpdates.apply(.mapped(plan: assignment), to: reference, cause: cause, tenant: org, store: store, now: time) {
                    mapped += 1
                }
            }
            try await audit.record(
                org: org, actor: actor.subject, action: "price_mapping.set", target: "price_mapping:\(provider.rawValue):\(providerPlan)",
                before: previous.map { ["plan_code": $0] }, after: ["plan_code": planCode, "subscriptions_mapped": String(mapped)],
                correlationID: actor.correlationID, on: connection, logger: logger)
            return .success((mapping, mapped))
        }
    }

    /// Replaces the org's overdue policy.
    func setPolicy(org: TenantID, policy: DunningPolicy, by actor: SubscriptionCommands.Actor) async throws -> DunningPolicy {
        try await queries.inTenant(org) { store, connection in
            let before = try await store.dunningPolicy()
            try await queries.savePolicy(policy, by: actor.subject, at: BillingClock.instant(now()), connection: connection)
            try await audit.record(
                org: org, actor: actor.subject, action: "dunning_policy.set", target: "dunning_policy", before: before.steps, after: policy.steps,
                correlationID: actor.correlationID, on: connection, logger: logger)
            return policy
        }
    }
}

/// A plan version as its audit row shows it.
struct PlanAudit: Encodable {
    var version: Int
    var name: String
    var interval: String
    var prices: [String: Int64]
    var limits: [String: Int64]

    init(_ plan: PlanVersion) {
        version = plan.version
        name = plan.name
        interval = "\(plan.interval.count) \(plan.interval.unit.rawValue)"
        prices = plan.prices
        limits = plan.limits
    }
}
