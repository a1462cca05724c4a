import Foundation

/// Where a canonical event came from: the provider, its object ids, when it happened there, the
/// gateway inbox row it was normalized from (lineage) and how far its source proved its origin.
public struct EventOrigin: Codable, Sendable, Equatable {
    public var provider: WebhookProvider
    /// The provider's own event id.
    public var providerEventID: String
    /// When the fact happened at the provider.
    public var occurredAt: Date
    /// The gateway inbox row this event was derived from.
    public var sourceInboxID: String
    public var trust: WebhookTrust

    public init(provider: WebhookProvider, providerEventID: String, occurredAt: Date, sourceInboxID: String, trust: WebhookTrust) {
        self.provider = provider
        self.providerEventID = providerEventID
        self.occurredAt = occurredAt
        self.sourceInboxID = sourceInboxID
        self.trust = trust
    }

    enum CodingKeys: String, CodingKey {
        case provider, providerEventID = "provider_event_id", occurredAt = "occurred_at", sourceInboxID = "source_inbox_id", trust
    }
}

/// A payment the provider captured: money moved from the customer. Keyed by payment.
public struct PaymentCaptured: EventPayload {
    public static let eventType = "tally.payment.captured.v1"
    public static let topic = TallyTopic.payments

    public var origin: EventOrigin
    /// The provider's payment object id (Stripe PaymentIntent, Paddle transaction, Hotmart transaction).
    public var paymentID: String
    public var amount: Money
    /// The provider's fee, when the payload states it.
    public var fee: Money?
    public var customerRef: String?
    public var orderRef: String?
    public var subscriptionRef: String?
    public var invoiceRef: String?

    public init(
        origin: EventOrigin, paymentID: String, amount: Money, fee: Money?, customerRef: String?,
        orderRef: String?, subscriptionRef: String?, invoiceRef: String?
    ) {
        self.origin = origin
        self.paymentID = paymentID
        self.amount = amount
        self.fee = fee
        self.customerRef = customerRef
        self.orderRef = orderRef
        self.subscriptionRef = subscriptionRef
        self.invoiceRef = invoiceRef
    }

    public var partitionKey: String { "\(origin.provider.rawValue):\(paymentID)" }

    enum CodingKeys: String, CodingKey {
        case origin, paymentID = "payment_id", amount, fee, customerRef = "customer_ref", orderRef = "order_ref"
        case subscriptionRef = "subscription_ref", invoiceRef = "invoice_ref"
    }
}
