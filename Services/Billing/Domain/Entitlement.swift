import Contracts
import Foundation

/// What a subscriber may use, kept apart from the billing status (Kill Bill's blocking states):
/// the status and each block (a pause, a dunning block, the end) decide it, each with its
/// reason and start.
struct EffectiveEntitlement: Codable, Sendable, Equatable {
    var access: EntitlementAccess
    var planCode: String?
    var planVersion: Int?
    /// The plan version's limits per metric.
    var limits: [String: Int64]
    var blocks: [EntitlementBlock]

    enum CodingKeys: String, CodingKey {
        case access, planCode = "plan_code", planVersion = "plan_version", limits, blocks
    }
}

enum EntitlementRules {
    /// The entitlement a projection gives: `ended` once canceled; `blocked` while paused or
    /// blocked by dunning; otherwise `granted` (a past-due subscription keeps access until the
    /// dunning policy's block step).
    static func effective(of subscription: SubscriptionProjection, limits: [String: Int64] = [:]) -> EffectiveEntitlement {
        var blocks: [EntitlementBlock] = []
        if subscription.status == .canceled {
            blocks.append(
                EntitlementBlock(
                    kind: .canceled, reason: subscription.cancelReason ?? "canceled", since: subscription.canceledAt ?? subscription.providerVersion,
                    source: subscription.reference.provider.rawValue))
        }
        if subscription.status == .paused, let pause = subscription.pause {
            blocks.append(EntitlementBlock(kind: .paused, reason: pause.reasonCode, since: pause.pausedAt, source: pause.source))
        }
        if let dunning = subscription.dunningBlock, subscription.status != .canceled { blocks.append(dunning) }
        let access: EntitlementAccess = subscription.status == .canceled ? .ended : (blocks.isEmpty ? .granted : .blocked)
        return EffectiveEntitlement(
            access: access, planCode: subscription.plan?.code, planVersion: subscription.plan?.version,
            limits: subscription.plan == nil ? [:] : limits, blocks: blocks)
    }
}
