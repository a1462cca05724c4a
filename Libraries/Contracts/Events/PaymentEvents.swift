/// A refund of a captured payment, in full or in part. Keyed by payment.
public struct PaymentRefunded: EventPayload {
    public static let eventType = "tally.payment.refunded.v1"
    public static let topic = TallyTopic.payments

    public var origin: EventOrigin
    public var paymentID: String
    public var refundID: String
    /// The amount this refund returns (not the payment's total).
    public var amount: Money
    /// True when the payment is now refunded in full.
    public var full: Bool

    public init(origin: EventOrigin, paymentID: String, refundID: String, amount: Money, full: Bool) {
        self.origin = origin
        self.paymentID = paymentID
        self.refundID = refundID
        self.amount = amount
        self.full = full
    }

    public var partitionKey: String { "\(origin.provider.rawValue):\(paymentID)" }

    enum CodingKeys: String, CodingKey {
        case origin, paymentID = "payment_id", refundID = "refund_id", amount, full
    }
}

/// A customer disputed a payment (chargeback). Keyed by payment.
public struct PaymentDisputed: EventPayload {
    public static let eventType = "tally.payment.disputed.v1"
    public static let topic = TallyTopic.payments

    public var origin: EventOrigin
    public var paymentID: String
    public var disputeID: String
    public var amount: Money
    public var reason: String?

    public init(origin: EventOrigin, paymentID: String, disputeID: String, amount: Money, reason: String?) {
        self.origin = origin
        self.paymentID = paymentID
        self.disputeID = disputeID
        self.amount = amount
        self.reason = reason
    }

    public var partitionKey: String { "\(origin.provider.rawValue):\(paymentID)" }

    enum CodingKeys: String, CodingKey {
        case origin, paymentID = "payment_id", disputeID = "dispute_id", amount, reason
    }
}

/// How a dispute was decided.
public enum DisputeOutcome: String, Codable, Sendable, Equatable {
    /// Decided for the merchant: the disputed amount comes back.
    case won
    /// Decided for the customer: the disputed amount stays with them.
    case lost
}

/// A dispute of a payment (the one `PaymentDisputed` announced) was decided, won or lost. Keyed by
/// payment. Only a decision is emitted: a dispute closed without one (a Stripe inquiry that ends
/// `warning_closed`) is not an event. An additive fact: each dispute's decision is emitted once.
public struct PaymentDisputeClosed: EventPayload {
    public static let eventType = "tally.payment.dispute_closed.v1"
    public static let topic = TallyTopic.payments

    public var origin: EventOrigin
    public var paymentID: String
    /// The same dispute id as the `PaymentDisputed` that opened it.
    public var disputeID: String
    /// The disputed amount the decision is about.
    public var amount: Money
    public var outcome: DisputeOutcome

    public init(origin: EventOrigin, paymentID: String, disputeID: String, amount: Money, outcome: DisputeOutcome) {
        self.origin = origin
        self.paymentID = paymentID
        self.disputeID = disputeID
        self.amount = amount
        self.outcome = outcome
    }

    public var partitionKey: String { "\(origin.provider.rawValue):\(paymentID)" }

    enum CodingKeys: String, CodingKey {
        case origin, paymentID = "payment_id", disputeID = "dispute_id", amount, outcome
    }
}

/// A bank deposit from the provider: what bank reconciliation matches. Keyed by payout.
public struct PayoutPaid: EventPayload {
    public static let eventType = "tally.payout.paid.v1"
    public static let topic = TallyTopic.payouts

    public var origin: EventOrigin
    public var payoutID: String
    public var amount: Money
    public var fees: Money?
    /// The day the money arrives at the bank, `YYYY-MM-DD`.
    public var arrivalDate: String
    /// The payments this payout settles, when the provider lists them.
    public var paymentRefs: [String]

    public init(origin: EventOrigin, payoutID: String, amount: Money, fees: Money?, arrivalDate: String, paymentRefs: [String]) {
        self.origin = origin
        self.payoutID = payoutID
        self.amount = amount
        self.fees = fees
        self.arrivalDate = arrivalDate
        self.paymentRefs = paymentRefs
    }

    public var partitionKey: String { "\(origin.provider.rawValue):\(payoutID)" }

    enum CodingKeys: String, CodingKey {
        case origin, payoutID = "payout_id", amount, fees, arrivalDate = "arrival_date", paymentRefs = "payment_refs"
    }
}

/// A payment attempt that did not go through. Keyed by payment. An additive fact: each failed
/// attempt is emitted once.
public struct PaymentFailed: EventPayload {
    public static let eventType = "tally.payment.failed.v1"
    public static let topic = TallyTopic.payments

    public var origin: EventOrigin
    public var paymentID: String
    /// The amount that was attempted.
    public var amount: Money
    /// The provider's machine-readable reason (`card_declined`, `insufficient_funds`, …).
    public var reasonCode: String
    public var customerRef: String?
    public var subscriptionRef: String?
    public var invoiceRef: String?

    public init(origin: EventOrigin, paymentID: String, amount: Money, reasonCode: String, customerRef: String?, subscriptionRef: String?, invoiceRef: String?) {
        self.origin = origin
        self.paymentID = paymentID
        self.amount = amount
        self.reasonCode = reasonCode
        self.customerRef = customerRef
        self.subscriptionRef = subscriptionRef
        self.invoiceRef = invoiceRef
    }

    public var partitionKey: String { "\(origin.provider.rawValue):\(paymentID)" }

    enum CodingKeys: String, CodingKey {
        case origin, paymentID = "payment_id", amount, reasonCode = "reason_code", customerRef = "customer_ref"
        case subscriptionRef = "subscription_ref", invoiceRef = "invoice_ref"
    }
}

/// A payment attempt was started and no money has moved yet: what will be charged, and for whom.
/// Keyed by payment. It promises nothing about the outcome; a `PaymentCaptured` or
/// `PaymentFailed` for the same payment may follow, or nothing at all (an abandoned checkout). An
/// additive fact: each started attempt is emitted once.
public struct PaymentIntentCreated: EventPayload {
    public static let eventType = "tally.payment.intent_created.v1"
    public static let topic = TallyTopic.payments

    public var origin: EventOrigin
    /// The provider's payment object id (Stripe PaymentIntent), or the one the product backend names.
    public var paymentID: String
    /// What will be charged if the payment goes through.
    public var amount: Money
    public var customerRef: String?
    public var orderRef: String?
    public var subscriptionRef: String?
    public var invoiceRef: String?

    public init(
        origin: EventOrigin, paymentID: String, amount: Money, customerRef: String?, orderRef: String?, subscriptionRef: String?, invoiceRef: String?
    ) {
        self.origin = origin
        self.paymentID = paymentID
        self.amount = amount
        self.customerRef = customerRef
        self.orderRef = orderRef
        self.subscriptionRef = subscriptionRef
        self.invoiceRef = invoiceRef
    }

    public var partitionKey: String { "\(origin.provider.rawValue):\(paymentID)" }

    enum CodingKeys: String, CodingKey {
        case origin, paymentID = "payment_id", amount, customerRef = "customer_ref", orderRef = "order_ref"
        case subscriptionRef = "subscription_ref", invoiceRef = "invoice_ref"
    }
}
