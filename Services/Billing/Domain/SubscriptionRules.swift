import Contracts
import Foundation

/// A provider's subscription event as billing applies it, with the plan its price maps to
/// (resolved when it was applied, so rebuilding the history gives the same plan version).
struct ProviderFact: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable, CaseIterable { case activated, changed, pastDue = "past_due", paused, resumed, canceled }
    /// The plan code and newest version a provider plan maps to.
    struct MappedPlan: Codable, Sendable, Equatable {
        var code: String
        var version: Int
    }
    var kind: Kind
    var state: SubscriptionState
    var provider: WebhookProvider
    var occurredAt: Date
    var reason: String?
    var eventID: String
    var mappedPlan: MappedPlan?

    enum CodingKeys: String, CodingKey {
        case kind, state, provider, occurredAt = "occurred_at", reason, eventID = "event_id", mappedPlan = "mapped_plan"
    }
}

/// A person's pause or resume.
struct OperatorAction: Codable, Sendable, Equatable {
    var reasonCode: String
    var actor: String
    var at: Date

    enum CodingKeys: String, CodingKey {
        case reasonCode = "reason_code", actor, at
    }
}

/// One entry of a subscription's history: everything that can change it. The projection is the
/// fold of its history through `SubscriptionRules.apply`, which is how billing sync rebuilds it.
enum SubscriptionChange: Codable, Sendable, Equatable {
    case provider(fact: ProviderFact)
    case pause(action: OperatorAction)
    case resume(action: OperatorAction)
    /// An operator put the subscription on another plan (replacing the raw-SQL fix).
    case correctPlan(plan: PlanAssignment)
    /// A mapping added later gave an unmapped subscription its plan.
    case mapped(plan: PlanAssignment)
    case dunningBlock(block: EntitlementBlock)
    case dunningLift(at: Date)

    /// The history's `kind` column.
    var kind: String {
        switch self {
        case .provider(let fact): "provider.\(fact.kind.rawValue)"
        case .pause: "operator.pause"
        case .resume: "operator.resume"
        case .correctPlan: "operator.plan"
        case .mapped: "mapping"
        case .dunningBlock: "dunning.block"
        case .dunningLift: "dunning.lift"
        }
    }
}

/// Why a change does not apply.
enum SubscriptionRefusal: Error, Equatable, Sendable {
    /// The provider fact is not newer than what was applied (a late or repeated event).
    case stale
    /// Pausing a subscription that is paused.
    case alreadyPaused
    /// Resuming a subscription that is not paused.
    case notPaused
    /// Pausing or resuming a subscription that ended.
    case canceled
    /// Anything but a provider fact for a subscription billing has never seen.
    case unknownSubscription
}

/// The subscription decider: given the current projection and one change, the next projection.
/// Pure; the same history always folds to the same projection.
///
/// Rules:
/// - A provider fact applies only if it happened after the newest one applied
///   (`providerVersion`): a late event never rolls the subscription back.
/// - An operator's plan correction stands until a provider fact that happened after it.
/// - A pause made by an operator is kept while provider facts arrive: they change the status a
///   resume returns to, not the paused status; only a cancellation ends it. A provider's own
///   pause is lifted by its resume or by a fact stating another status.
/// - The newest provider fact's status holds, whatever came before it: a newer fact that states a
///   canceled subscription live (active, past due, paused) reopens it, so a subscription ends as
///   its newest fact says in whatever order the facts arrived (a property test checks this).
enum SubscriptionRules {
    static func apply(_ change: SubscriptionChange, to current: SubscriptionProjection?) throws(SubscriptionRefusal) -> SubscriptionProjection {
        if case .provider(let fact) = change { return try applyProvider(fact, to: current) }
        guard var next = current else { throw .unknownSubscription }
        switch change {
        case .provider:
            break
        case .pause(let action):
            guard next.status != .canceled else { throw .canceled }
            guard next.status != .paused else { throw .alreadyPaused }
            next.statusBeforePause = next.status
            next.pause = PauseRecord(reasonCode: action.reasonCode, pausedAt: action.at, source: "operator", actor: action.actor)
            next.status = .paused
        case .resume(let action):
            guard next.status != .canceled else { throw .canceled }
            guard next.status == .paused else { throw .notPaused }
            next.status = next.statusBeforePause ?? .active
            next.lastResume = ResumeRecord(reasonCode: action.reasonCode, resumedAt: action.at, source: "operator", actor: action.actor)
            next.pause = nil
            next.statusBeforePause = nil
        case .correctPlan(let plan):
            next.plan = plan
        case .mapped(let plan):
            if next.plan == nil { next.plan = plan }
        case .dunningBlock(let block):
            next.dunningBlock = block
        case .dunningLift:
            next.dunningBlock = nil
        }
        return next
    }

    private static func applyProvider(_ fact: ProviderFact, to current: SubscriptionProjection?) throws(SubscriptionRefusal) -> SubscriptionProjection {
        if let current, fact.occurredAt <= current.providerVersion { throw .stale }
        let state = fact.state
        let reference = SubscriptionReference(provider: fact.provider, subscriptionID: state.subscriptionID)
        var next =
            current
            ?? SubscriptionProjection(
                reference: reference, customerRef: nil, providerPlan: state.planCode, plan: nil, status: .active, providerStatus: state.providerStatus,
                statusBeforePause: nil, pause: nil, lastResume: nil, quantity: state.quantity, unitPrice: nil, interval: nil, currentPeriodEnd: nil,
                activatedAt: nil, canceledAt: nil, cancelReason: nil, providerVersion: fact.occurredAt, dunningBlock: nil)
        next.customerRef = state.customerRef ?? next.customerRef
        next.providerPlan = state.planCode
        next.providerStatus = state.providerStatus
        next.quantity = state.quantity
        next.unitPrice = state.unitPrice ?? next.unitPrice
        next.interval = state.interval ?? next.interval
        next.currentPeriodEnd = state.currentPeriodEnd ?? next.currentPeriodEnd
        next.providerVersion = fact.occurredAt
        next.plan = plan(after: fact, current: next.plan)
        let target = targetStatus(fact, current: current?.status)
        move(&next, to: target, provider: fact.provider.rawValue, reason: fact.reason, at: fact.occurredAt)
        if next.activatedAt == nil, target == .active || fact.kind == .activated { next.activatedAt = fact.occurredAt }
        return next
    }

    /// The plan after a newer provider fact: an operator's correction made after the provider's
    /// change stands; otherwise the mapping decides, keeping the version of an unchanged plan.
    static func plan(after fact: ProviderFact, current: PlanAssignment?) -> PlanAssignment? {
        if let current, current.source == .operator, let correctedAt = current.correctedAt, fact.occurredAt <= correctedAt { return current }
        guard let mapped = fact.mappedPlan else { return nil }
        if let current, current.code == mapped.code, current.source == .mapping { return current }
        return PlanAssignment(code: mapped.code, version: mapped.version, source: .mapping, correctedAt: nil, reason: nil, actor: nil)
    }

    /// The billing status a provider fact states.
    static func targetStatus(_ fact: ProviderFact, current: BillingStatus?) -> BillingStatus {
        switch fact.kind {
        case .activated: return fact.state.providerStatus == "trialing" ? .trialing : .active
        case .pastDue: return .pastDue
        case .paused: return .paused
        case .resumed: return .active
        case .canceled: return .canceled
        case .changed:
            switch fact.state.providerStatus {
            case "trialing": return .trialing
            case "active": return .active
            case "past_due", "unpaid", "incomplete": return .pastDue
            case "paused": return .paused
            case "canceled", "cancelled", "incomplete_expired", "expired": return .canceled
            default: return current ?? .active
            }
        }
    }

    private static func move(_ next: inout SubscriptionProjection, to target: BillingStatus, provider: String, reason: String?, at: Date) {
        switch target {
        case .canceled:
            if next.status != .canceled {
                next.canceledAt = at
                next.cancelReason = reason
            }
            next.status = .canceled
            next.pause = nil
            next.statusBeforePause = nil
        case .paused:
            guard next.status != .paused else { return }
            // A newer provider fact that says paused means the subscription is not canceled any
            // more (the reactivation may have been lost or be late); a resume returns to active.
            next.statusBeforePause = next.status == .canceled ? .active : next.status
            reopen(&next)
            next.pause = PauseRecord(reasonCode: reason ?? "provider_pause", pausedAt: at, source: provider, actor: nil)
            next.status = .paused
        case .trialing, .active, .pastDue:
            reopen(&next)
            if next.status == .paused {
                if next.pause?.source == "operator" {
                    next.statusBeforePause = target
                    return
                }
                next.lastResume = ResumeRecord(reasonCode: reason ?? "provider_resume", resumedAt: at, source: provider, actor: nil)
                next.pause = nil
                next.statusBeforePause = nil
            }
            next.status = target
        }
    }

    /// A canceled subscription the provider states as live again keeps no cancellation.
    private static func reopen(_ next: inout SubscriptionProjection) {
        guard next.status == .canceled else { return }
        next.canceledAt = nil
        next.cancelReason = nil
    }
}
