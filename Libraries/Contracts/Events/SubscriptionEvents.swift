import Foundation

/// How often a subscription bills: every `count` `unit`s (every 1 month, every 3 months).
public struct BillingInterval: Codable, Sendable, Equatable {
    public enum Unit: String, Codable, Sendable, Equatable { case day, week, month, year }
    public var unit: Unit
    public var count: Int

    public init(unit: Unit, count: Int) {
        self.unit = unit
        self.count = count
    }
}

/// A subscription as the provider states it at one moment: what every subscription event carries.
public struct SubscriptionState: Codable, Sendable, Equatable {
    public var subscriptionID: String
    public var customerRef: String?
    /// The plan or price the product knows it by (Stripe lookup key or price id, Paddle price id,
    /// Hotmart plan id).
    public var planCode: String
    /// Nil only when the provider's event does not state it (Hotmart cancellations and switches).
    public var interval: BillingInterval?
    public var quantity: Int
    /// The price per unit and interval; nil when the event does not state it with a currency.
    public var unitPrice: Money?
    /// The provider's own status word (`active`, `past_due`, `paused`, `canceled`, …).
    public var providerStatus: String
    /// The end of the current billing period, RFC 3339; nil when the provider states none.
    public var currentPeriodEnd: Date?

    public init(
        subscriptionID: String, customerRef: String?, planCode: String, interval: BillingInterval?, quantity: Int,
        unitPrice: Money?, providerStatus: String, currentPeriodEnd: Date?
    ) {
        self.subscriptionID = subscriptionID
        self.customerRef = customerRef
        self.planCode = planCode
        self.interval = interval
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.providerStatus = providerStatus
        self.currentPeriodEnd = currentPeriodEnd
    }

    enum CodingKeys: String, CodingKey {
        case subscriptionID = "subscription_id", customerRef = "customer_ref", planCode = "plan_code", interval, quantity
        case unitPrice = "unit_price", providerStatus = "provider_status", currentPeriodEnd = "current_period_end"
    }
}

/// What happened to a subscription: one canonical event type per kind.
public protocol SubscriptionChangeKind: Sendable {
    /// The middle of the event type, e.g. `activated` in `tally.subscription.activated.v1`.
    static var name: String { get }
}

/// A subscription lifecycle event, keyed by subscription. Subscriptions are state-bearing: the
/// normalizer emits one only when it is newer than the subscription's last applied provider
/// version, so a late, older event never rolls state back.
public struct SubscriptionEvent<Kind: SubscriptionChangeKind>: EventPayload {
    public static var eventType: String { "tally.subscription.\(Kind.name).v1" }
    public static var topic: TallyTopic { .subscriptions }

    public var origin: EventOrigin
    public var subscription: SubscriptionState
    /// Why, when the provider says (a cancellation or pause reason).
    public var reason: String?

    public init(origin: EventOrigin, subscription: SubscriptionState, reason: String? = nil) {
        self.origin = origin
        self.subscription = subscription
        self.reason = reason
    }

    public var partitionKey: String { "\(origin.provider.rawValue):\(subscription.subscriptionID)" }
}

public enum SubscriptionActivatedKind: SubscriptionChangeKind { public static let name = "activated" }
public enum SubscriptionChangedKind: SubscriptionChangeKind { public static let name = "changed" }
public enum SubscriptionPastDueKind: SubscriptionChangeKind { public static let name = "past_due" }
public enum SubscriptionPausedKind: SubscriptionChangeKind { public static let name = "paused" }
public enum SubscriptionResumedKind: SubscriptionChangeKind { public static let name = "resumed" }
public enum SubscriptionCanceledKind: SubscriptionChangeKind { public static let name = "canceled" }

/// The subscription started (or left its trial) and is billing.
public typealias SubscriptionActivated = SubscriptionEvent<SubscriptionActivatedKind>
/// Plan, quantity or price changed.
public typealias SubscriptionChanged = SubscriptionEvent<SubscriptionChangedKind>
/// A renewal payment failed and the provider is retrying.
public typealias SubscriptionPastDue = SubscriptionEvent<SubscriptionPastDueKind>
public typealias SubscriptionPaused = SubscriptionEvent<SubscriptionPausedKind>
public typealias SubscriptionResumed = SubscriptionEvent<SubscriptionResumedKind>
/// The subscription ended, or will end at `current_period_end`.
public typealias SubscriptionCanceled = SubscriptionEvent<SubscriptionCanceledKind>
