import Foundation

/// A subscription by its provider's id: how billing keys subscriptions and entitlements.
public struct SubscriptionReference: Codable, Sendable, Equatable, Hashable {
    public var provider: WebhookProvider
    public var subscriptionID: String

    public init(provider: WebhookProvider, subscriptionID: String) {
        self.provider = provider
        self.subscriptionID = subscriptionID
    }

    /// `provider:subscription_id`, the Kafka key of everything about this subscription.
    public var key: String { "\(provider.rawValue):\(subscriptionID)" }

    enum CodingKeys: String, CodingKey {
        case provider, subscriptionID = "subscription_id"
    }
}

/// What a customer may use under one subscription.
public enum EntitlementAccess: String, Codable, Sendable, Equatable, CaseIterable {
    /// The plan's features and limits apply.
    case granted
    /// Withheld for now (a pause or a dunning block); lifting every block grants it again.
    case blocked
    /// The subscription ended.
    case ended
}

/// Why access is withheld.
public enum EntitlementBlockKind: String, Codable, Sendable, Equatable, CaseIterable {
    case paused, dunning, canceled
}

/// One reason access is withheld: its kind, a reason code, its start, and who imposed it (a
/// provider name such as `stripe`, `operator`, or `dunning`).
public struct EntitlementBlock: Codable, Sendable, Equatable {
    public var kind: EntitlementBlockKind
    public var reason: String
    public var since: Date
    public var source: String

    public init(kind: EntitlementBlockKind, reason: String, since: Date, source: String) {
        self.kind = kind
        self.reason = reason
        self.since = since
        self.source = source
    }
}

/// What a subscriber may now use, published by billing when the effective entitlement of a
/// subscription changes (access, plan, limits or blocks): the product backend reads it to grant
/// or remove access.
///
/// Guarantees: `revision` counts 1, 2, 3… per subscription, and a consumer that keeps the highest
/// revision it has seen holds the current entitlement whatever order it reads them in; the event
/// id is derived from the subscription and the revision, so a reprocessed cause never publishes a
/// second copy. Keyed by subscription: one subscription's changes stay in order. It carries no
/// personal data beyond the provider's customer id.
public struct EntitlementChanged: EventPayload {
    public static let eventType = "tally.entitlement.changed.v1"
    public static let topic = TallyTopic.entitlements

    public var subscription: SubscriptionReference
    public var customerRef: String?
    public var access: EntitlementAccess
    /// What access was before this change; nil for a subscription's first entitlement.
    public var previousAccess: EntitlementAccess?
    /// The plan and its version; nil while the provider's price maps to no plan.
    public var planCode: String?
    public var planVersion: Int?
    /// The plan version's limits per metric (empty without a plan).
    public var limits: [String: Int64]
    /// Every reason access is withheld, oldest first; empty when access is granted.
    public var blocks: [EntitlementBlock]
    public var revision: Int64
    /// What changed it: `provider.activated`, `operator.pause`, `dunning.block`, `sync`, …
    public var cause: String
    /// When the new entitlement took effect.
    public var effectiveAt: Date

    public init(
        subscription: SubscriptionReference, customerRef: String?, access: EntitlementAccess, previousAccess: EntitlementAccess?, planCode: String?,
        planVersion: Int?, limits: [String: Int64], blocks: [EntitlementBlock], revision: Int64, cause: String, effectiveAt: Date
    ) {
        self.subscription = subscription
        self.customerRef = customerRef
        self.access = access
        self.previousAccess = previousAccess
        self.planCode = planCode
        self.planVersion = planVersion
        self.limits = limits
        self.blocks = blocks
        self.revision = revision
        self.cause = cause
        self.effectiveAt = effectiveAt
    }

    public var partitionKey: String { subscription.key }

    enum CodingKeys: String, CodingKey {
        case subscription, customerRef = "customer_ref", access, previousAccess = "previous_access", planCode = "plan_code"
        case planVersion = "plan_version", limits, blocks, revision, cause, effectiveAt = "effective_at"
    }
}
