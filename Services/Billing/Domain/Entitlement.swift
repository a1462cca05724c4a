import Contracts
import Foundation

/// What a subscriber may use, kept apart from the billing status (Kill Bill's blocking states):
/// the status and each block (a pause, a dunning block, the end) decide it, each with its
/// reason and start.
struct EffectiveEntitlement: Codable, Sendable, Equatable {
    var access: EntitlementAccess
    var planCode: String?
    var planVersion: Int?
    var blocks: [EntitlementBlock]

    enum CodingKeys: String, CodingKey {
        case access, planCode = "plan_code", planVersion = "plan_version", blocks
    }
}

enum EntitlementRules {
    /// The entitlement a projection gives: `ended` once canceled; `blocked` while paused or
    /// blocked by dunning; otherwise `granted` (a past-due subscription keeps access until the
    /// dunning policy's block step).
    static func effective(of subscription: SubscriptionProjection) -> EffectiveEntitlement {
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
        return EffectiveEntitlement(access: access, planCode: subscription.plan?.code, planVersion: subscription.plan?.version, blocks: blocks)
    }
}

// The types below are the planned contract of `tally.entitlement.changed.v1` and
// `tally.usage.recorded.v1`; they move to `Libraries/Contracts` with their schemas and fixtures.

/// A subscription by its provider's id: the key of billing's subscriptions.
struct SubscriptionReference: Codable, Sendable, Equatable, Hashable {
    var provider: WebhookProvider
    var subscriptionID: String

    enum CodingKeys: String, CodingKey {
        case provider, subscriptionID = "subscription_id"
    }
}

/// What a customer may use under one subscription.
enum EntitlementAccess: String, Codable, Sendable, Equatable, CaseIterable {
    /// The plan's features and limits apply.
    case granted
    /// Withheld for now (a pause or a dunning block); lifting every block grants it again.
    case blocked
    /// The subscription ended.
    case ended
}

/// Why access is withheld.
enum EntitlementBlockKind: String, Codable, Sendable, Equatable, CaseIterable { case paused, dunning, canceled }

/// One reason access is withheld, with its start and who imposed it (a provider name,
/// `operator`, or `dunning`).
struct EntitlementBlock: Codable, Sendable, Equatable {
    var kind: EntitlementBlockKind
    var reason: String
    var since: Date
    var source: String
}
