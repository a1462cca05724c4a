import Contracts
import Foundation
import Metrics
import Storage

/// Who or what caused a change, for the history row and the published event.
struct ChangeCause: Sendable, Equatable {
    /// The consumed event's id, or nil for a person's command or a job.
    var eventID: String?
    /// The person, for commands.
    var actor: String?
    var correlationID: String
    /// The envelope's `causationid`: the consumed event, the request or the job run.
    var causationID: String
}

/// The one path every change of a subscription takes — a consumed provider event, an operator's
/// command, a dunning block — so the rules live once: load the subscription (locked), decide
/// with `SubscriptionRules`, save it with its history row and, when the effective entitlement
/// changed, publish `entitlement.changed` through the outbox in the same transaction.
enum SubscriptionUpdates {
    struct Applied: Sendable, Equatable {
        var subscription: StoredSubscription
        var before: SubscriptionProjection?
        /// The entitlement event queued, if the effective entitlement changed.
        var published: EntitlementChanged?
    }

    static func apply(
        _ change: SubscriptionChange, to reference: SubscriptionReference, cause: ChangeCause, tenant: TenantID, store: some BillingStore, now: Date
    ) async throws -> Result<Applied, SubscriptionRefusal> {
        let current = try await store.subscription(reference)
        let projection: SubscriptionProjection
        do {
            projection = try SubscriptionRules.apply(change, to: current?.projection)
        } catch {
            return .failure(error)
        }
        var stored = current ?? StoredSubscription(id: UUID(), projection: projection, entitlement: nil, entitlementRevision: 0)
        stored.projection = projection
        let published = try await publishIfChanged(&stored, cause: change.kind, by: cause, tenant: tenant, store: store, now: now)
        try await store.save(stored, change: change, causeEventID: cause.eventID, actor: cause.actor, at: now)
        Counter(label: "billing_subscription_changes_total", dimensions: [("kind", change.kind)]).increment()
        return .success(Applied(subscription: stored, before: current?.projection, published: published))
    }

    /// Compares the projection's effective entitlement with the one last published and, when it
    /// differs, raises the revision and queues the event (its id derived from the subscription
    /// and the revision, so the same change never publishes twice).
    static func publishIfChanged(
        _ stored: inout StoredSubscription, cause: String, by origin: ChangeCause, tenant: TenantID, store: some BillingStore, now: Date
    ) async throws -> EntitlementChanged? {
        let limits: [String: Int64]
        if let plan = stored.projection.plan {
            limits = try await store.limits(plan: plan.code, version: plan.version)
        } else {
            limits = [:]
        }
        let effective = EntitlementRules.effective(of: stored.projection, limits: limits)
        guard effective != stored.entitlement else { return nil }
        let previous = stored.entitlement?.access
        stored.entitlement = effective
        stored.entitlementRevision += 1
        let reference = stored.projection.reference
        let event = EntitlementChanged(
            subscription: reference, customerRef: stored.projection.customerRef, access: effective.access, previousAccess: previous,
            planCode: effective.planCode, planVersion: effective.planVersion, limits: effective.limits, blocks: effective.blocks,
            revision: stored.entitlementRevision, cause: cause, effectiveAt: now)
        try await store.enqueue(
            try OutboxMessage(
                EventEnvelope(
                    id: eventID(tenant: tenant, subscription: reference, revision: stored.entitlementRevision), source: "/tally/billing", time: now,
                    tenant: tenant.rawValue, correlationID: origin.correlationID, causationID: origin.causationID, data: event)))
        Counter(label: "billing_entitlement_changes_total", dimensions: [("access", effective.access.rawValue)]).increment()
        return event
    }

    static func eventID(tenant: TenantID, subscription: SubscriptionReference, revision: Int64) -> String {
        "entitlement-" + ContentHash.sha256Hex(Array("\(tenant.rawValue)\n\(subscription.key)\n\(revision)".utf8)).prefix(32)
    }
}
