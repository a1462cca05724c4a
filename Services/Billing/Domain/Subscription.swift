import Contracts
import Foundation

/// A subscription's billing status, as the provider (or an operator's pause) left it. It is
/// not what the customer may use: that is the entitlement, derived from this plus any blocks.
enum BillingStatus: String, Codable, Sendable, Equatable, CaseIterable {
    case trialing, active
    case pastDue = "past_due"
    case paused, canceled
}

/// A pause: why, when and by whom (a provider name such as `stripe`, or `operator`).
struct PauseRecord: Codable, Sendable, Equatable {
    var reasonCode: String
    var pausedAt: Date
    var source: String
    var actor: String?

    enum CodingKeys: String, CodingKey {
        case reasonCode = "reason_code", pausedAt = "paused_at", source, actor
    }
}

/// The last resume.
struct ResumeRecord: Codable, Sendable, Equatable {
    var reasonCode: String
    var resumedAt: Date
    var source: String
    var actor: String?

    enum CodingKeys: String, CodingKey {
        case reasonCode = "reason_code", resumedAt = "resumed_at", source, actor
    }
}

/// Billing's view of one provider subscription: a fold of its history (provider facts, operator
/// commands, dunning blocks) through `SubscriptionRules`, so it can always be rebuilt.
struct SubscriptionProjection: Codable, Sendable, Equatable {
    var reference: SubscriptionReference
    var customerRef: String?
    /// The provider's price or plan id as the event states it.
    var providerPlan: String
    /// Nil while the provider plan has no mapping (`plan: unmapped`).
    var plan: PlanAssignment?
    var status: BillingStatus
    /// The provider's own status word.
    var providerStatus: String
    /// The status a resume returns to.
    var statusBeforePause: BillingStatus?
    var pause: PauseRecord?
    var lastResume: ResumeRecord?
    var quantity: Int
    var unitPrice: Money?
    var interval: BillingInterval?
    var currentPeriodEnd: Date?
    /// When it first became active: the engagement cadence counts days from here.
    var activatedAt: Date?
    var canceledAt: Date?
    var cancelReason: String?
    /// The provider time of the newest provider fact applied: an older one changes nothing.
    var providerVersion: Date
    /// Set by the dunning job while an invoice is overdue past the block step.
    var dunningBlock: EntitlementBlock?

    enum CodingKeys: String, CodingKey {
        case reference, customerRef = "customer_ref", providerPlan = "provider_plan", plan, status, providerStatus = "provider_status"
        case statusBeforePause = "status_before_pause", pause, lastResume = "last_resume", quantity, unitPrice = "unit_price", interval
        case currentPeriodEnd = "current_period_end", activatedAt = "activated_at", canceledAt = "canceled_at", cancelReason = "cancel_reason"
        case providerVersion = "provider_version", dunningBlock = "dunning_block"
    }
}
