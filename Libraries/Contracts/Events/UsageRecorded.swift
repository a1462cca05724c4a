import Foundation

/// The product backend reports that a subscriber used something: `quantity` units of `metric`
/// (seats, bookings, storage bytes…) under one subscription, once per `transaction_id`.
///
/// Guarantees: the normalizer publishes one event per usage report it accepted; consumers count
/// each `transaction_id` once per org, so a report sent twice (or replayed) counts once. Keyed
/// by subscription: one subscription's usage stays in order.
public struct UsageRecorded: EventPayload {
    public static let eventType = "tally.usage.recorded.v1"
    public static let topic = TallyTopic.usage

    public var origin: EventOrigin
    /// The backend's id of this usage report: what makes it count once.
    public var transactionID: String
    public var subscription: SubscriptionReference
    public var customerRef: String?
    /// The metric, as the plans' limits name it (`[a-z][a-z0-9_.-]{0,63}`).
    public var metric: String
    /// Units used, 0 or more.
    public var quantity: Int64
    /// When the usage happened (it counts in this time's UTC month).
    public var recordedAt: Date

    public init(
        origin: EventOrigin, transactionID: String, subscription: SubscriptionReference, customerRef: String?, metric: String, quantity: Int64,
        recordedAt: Date
    ) {
        self.origin = origin
        self.transactionID = transactionID
        self.subscription = subscription
        self.customerRef = customerRef
        self.metric = metric
        self.quantity = quantity
        self.recordedAt = recordedAt
    }

    public var partitionKey: String { subscription.key }

    enum CodingKeys: String, CodingKey {
        case origin, transactionID = "transaction_id", subscription, customerRef = "customer_ref", metric, quantity, recordedAt = "recorded_at"
    }
}
