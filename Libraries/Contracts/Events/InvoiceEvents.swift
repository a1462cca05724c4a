import Foundation

/// A provider invoice whose payment attempt failed: what dunning needs. Keyed by invoice.
public struct InvoicePaymentFailed: EventPayload {
    public static let eventType = "tally.invoice.payment_failed.v1"
    public static let topic = TallyTopic.invoices

    public var origin: EventOrigin
    public var invoiceID: String
    /// The number the provider printed on the invoice (Stripe's `number`), when it has one.
    public var invoiceNumber: String?
    public var subscriptionRef: String?
    public var customerRef: String?
    public var amountDue: Money
    /// How many attempts failed so far.
    public var attemptCount: Int
    /// When the provider retries next, RFC 3339; nil when it will not retry.
    public var nextRetryAt: Date?

    public init(
        origin: EventOrigin, invoiceID: String, invoiceNumber: String? = nil, subscriptionRef: String?, customerRef: String?, amountDue: Money, attemptCount: Int,
        nextRetryAt: Date?
    ) {
        self.origin = origin
        self.invoiceID = invoiceID
        self.invoiceNumber = invoiceNumber
        self.subscriptionRef = subscriptionRef
        self.customerRef = customerRef
        self.amountDue = amountDue
        self.attemptCount = attemptCount
        self.nextRetryAt = nextRetryAt
    }

    public var partitionKey: String { "\(origin.provider.rawValue):\(invoiceID)" }

    enum CodingKeys: String, CodingKey {
        case origin, invoiceID = "invoice_id", invoiceNumber = "invoice_number", subscriptionRef = "subscription_ref", customerRef = "customer_ref"
        case amountDue = "amount_due", attemptCount = "attempt_count", nextRetryAt = "next_retry_at"
    }
}

/// A provider invoice paid in full. Keyed by invoice. Invoices are state-bearing: the normalizer
/// emits this only when it is newer than the invoice's last applied provider version.
public struct InvoicePaid: EventPayload {
    public static let eventType = "tally.invoice.paid.v1"
    public static let topic = TallyTopic.invoices

    public var origin: EventOrigin
    public var invoiceID: String
    /// The number the provider printed on the invoice (Stripe's `number`), when it has one.
    public var invoiceNumber: String?
    public var subscriptionRef: String?
    public var customerRef: String?
    public var amountPaid: Money
    /// The payment that settled it, when the provider names one.
    public var paymentRef: String?
    /// When it was paid, RFC 3339.
    public var paidAt: Date

    public init(
        origin: EventOrigin, invoiceID: String, invoiceNumber: String? = nil, subscriptionRef: String?, customerRef: String?, amountPaid: Money,
        paymentRef: String?, paidAt: Date
    ) {
        self.origin = origin
        self.invoiceID = invoiceID
        self.invoiceNumber = invoiceNumber
        self.subscriptionRef = subscriptionRef
        self.customerRef = customerRef
        self.amountPaid = amountPaid
        self.paymentRef = paymentRef
        self.paidAt = paidAt
    }

    public var partitionKey: String { "\(origin.provider.rawValue):\(invoiceID)" }

    enum CodingKeys: String, CodingKey {
        case origin, invoiceID = "invoice_id", invoiceNumber = "invoice_number", subscriptionRef = "subscription_ref", customerRef = "customer_ref"
        case amountPaid = "amount_paid", paymentRef = "payment_ref", paidAt = "paid_at"
    }
}
