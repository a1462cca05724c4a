import Contracts
import Foundation

/// Stripe events (`id`, `type`, `created`, `data.object`) to canonical events.
struct StripeMapping: ProviderMapping {
    struct Event: Decodable {
        let id: String
        let type: String
        let created: Int64
    }

    /// `data.object` of the event, decoded as `Object`.
    struct Envelope<Object: Decodable>: Decodable {
        struct Data: Decodable { let object: Object }
        let data: Data
    }

    struct PaymentIntent: Decodable {
        struct PaymentError: Decodable {
            let code: String?
            let decline_code: String?
        }
        let id: String
        let amount: Int64
        let amount_received: Int64
        let currency: String
        let customer: String?
        let invoice: String?
        let metadata: [String: String]?
        let last_payment_error: PaymentError?
    }

    struct Subscription: Decodable {
        struct Items: Decodable { let data: [Item] }
        struct Item: Decodable {
            let quantity: Int?
            let price: Price
            /// Newer API versions state the period on the item rather than the subscription.
            let current_period_end: Int64?
        }
        struct Price: Decodable {
            struct Recurring: Decodable {
                let interval: String
                let interval_count: Int
            }
            let id: String
            let currency: String
            let unit_amount: Int64?
            let lookup_key: String?
            let recurring: Recurring?
        }
        struct PauseCollection: Decodable { let behavior: String? }
        struct CancellationDetails: Decodable { let reason: String? }
        let id: String
        let customer: String?
        let status: String
        let current_period_end: Int64?
        let pause_collection: PauseCollection?
        let cancellation_details: CancellationDetails?
        let items: Items
    }

    /// `data.previous_attributes` of a `customer.subscription.updated` event: which fields changed
    /// and what the status was before.
    struct PreviousAttributes: Decodable {
        struct Key: CodingKey {
            let stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }
        let status: String?
        /// Present in the changed fields, and whether it was set (non-null) before.
        let pauseCollection: Bool?

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            status = try container.decodeIfPresent(String.self, forKey: Key(stringValue: "status"))
            let pause = Key(stringValue: "pause_collection")
            pauseCollection = container.contains(pause) ? !(try container.decodeNil(forKey: pause)) : nil
        }
    }

    struct SubscriptionUpdate: Decodable {
        struct Data: Decodable {
            let object: Subscription
            let previous_attributes: PreviousAttributes?
        }
        let data: Data
    }

    struct Charge: Decodable {
        struct Refunds: Decodable { let data: [Refund] }
        struct Refund: Decodable {
            let id: String
            let amount: Int64
            let created: Int64
        }
        let id: String
        let amount: Int64
        let amount_refunded: Int64
        let currency: String
        let payment_intent: String?
        let refunds: Refunds?
    }

    struct Dispute: Decodable {
        let id: String
        let amount: Int64
        let currency: String
        let charge: String
        let payment_intent: String?
        let reason: String?
        /// `needs_response`, `under_review`, … while open; `won` or `lost` once decided; `warning_closed`
        /// for an inquiry that closed without becoming a chargeback.
        let status: String?
    }

    struct Payout: Decodable {
        let id: String
        let amount: Int64
        let currency: String
        let arrival_date: Int64
    }

    struct Invoice: Decodable {
        let id: String
        let number: String?
        let customer: String?
        let subscription: String?
        struct StatusTransitions: Decodable { let paid_at: Int64? }
        let amount_due: Int64
        let amount_paid: Int64?
        let currency: String
        let attempt_count: Int
        let next_payment_attempt: Int64?
        let payment_intent: String?
        let status_transitions: StatusTransitions?
    }

    struct Customer: Decodable {
        struct Address: Decodable { let country: String? }
        let id: String
        let email: String?
        let name: String?
        let phone: String?
        let preferred_locales: [String]?
        let address: Address?
    }

    func normalize(_ raw: WebhookReceived, body: [UInt8]) throws(MalformedPayload) -> Normalization {
        let event = try PayloadReading.decode(Event.self, body, provider: "stripe")
        let origin = PayloadReading.origin(raw, occurredAt: PayloadReading.instant(unixSeconds: event.created))
        func object<T: Decodable>(_ type: T.Type) throws(MalformedPayload) -> T {
            try PayloadReading.decode(Envelope<T>.self, body, provider: "stripe").data.object
        }
        func money(_ amount: Int64, _ currency: String) throws(MalformedPayload) -> Money {
            Money(amountMinor: amount, currency: try PayloadReading.currency(currency, provider: "stripe"))
        }
        switch event.type {
        case "payment_intent.created":
            let intent = try object(PaymentIntent.self)
            return .events([
                .paymentIntentCreated(
                    PaymentIntentCreated(
                        origin: origin, paymentID: intent.id, amount: try money(intent.amount, intent.currency),
                        customerRef: intent.customer, orderRef: intent.metadata?["order_id"], subscriptionRef: nil, invoiceRef: intent.invoice
                    ))
            ])
        case "payment_intent.succeeded":
            let intent = try object(PaymentIntent.self)
            return .events([
                .paymentCaptured(
                    PaymentCaptured(
                        origin: origin, paymentID: intent.id, amount: try money(intent.amount_received, intent.currency), fee: nil,
                        customerRef: intent.customer, orderRef: intent.metadata?["order_id"], subscriptionRef: nil, invoiceRef: intent.invoice
                    ))
            ])
        case "payment_intent.payment_failed":
            let intent = try object(PaymentIntent.self)
            let error = intent.last_payment_error
            return .events([
                .paymentFailed(
                    PaymentFailed(
                        origin: origin, paymentID: intent.id, amount: try money(intent.amount, intent.currency),
                        reasonCode: error?.decline_code ?? error?.code ?? "unknown",
                        customerRef: intent.customer, subscriptionRef: nil, invoiceRef: intent.invoice
                    ))
            ])
        case "customer.subscription.created":
            let subscription = try object(Subscription.self)
            // An incomplete subscription has not been paid for yet; its activation arrives as an update.
            guard ["active", "trialing"].contains(subscription.status) else {
                return .ignored("stripe subscription \(subscription.id) was created \(subscription.status); activation follows as an update")
            }
            return .events([.subscription(.activated, try state(subscription), origin: origin, reason: nil)])
        case "customer.subscription.updated":
            let update = try PayloadReading.decode(SubscriptionUpdate.self, body, provider: "stripe").data
            let change = Self.change(update.object, previous: update.previous_attributes)
            return .events([.subscription(change, try state(update.object), origin: origin, reason: nil)])
        case "customer.subscription.paused":
            return .events([.subscription(.paused, try state(try object(Subscription.self)), origin: origin, reason: nil)])
        case "customer.subscription.resumed":
            return .events([.subscription(.resumed, try state(try object(Subscription.self)), origin: origin, reason: nil)])
        case "customer.subscription.deleted":
            let subscription = try object(Subscription.self)
            return .events([.subscription(.canceled, try state(subscription), origin: origin, reason: subscription.cancellation_details?.reason)])
        case "invoice.paid":
            let invoice = try object(Invoice.self)
            return .events([
                .invoicePaid(
                    InvoicePaid(
                        origin: origin, invoiceID: invoice.id, invoiceNumber: invoice.number, subscriptionRef: invoice.subscription, customerRef: invoice.customer,
                        amountPaid: try money(invoice.amount_paid ?? invoice.amount_due, invoice.currency), paymentRef: invoice.payment_intent,
                        paidAt: PayloadReading.instant(unixSeconds: invoice.status_transitions?.paid_at ?? event.created)
                    ))
            ])
        case "charge.refunded":
            let charge = try object(Charge.self)
            guard let refund = charge.refunds?.data.max(by: { $0.created < $1.created }) else {
                throw MalformedPayload("stripe charge.refunded lists no refund")
            }
            return .events([
                .paymentRefunded(
                    PaymentRefunded(
                        origin: origin, paymentID: charge.payment_intent ?? charge.id, refundID: refund.id,
                        amount: try money(refund.amount, charge.currency), full: charge.amount_refunded >= charge.amount
                    ))
            ])
        case "charge.dispute.created":
            let dispute = try object(Dispute.self)
            return .events([
                .paymentDisputed(
                    PaymentDisputed(
                        origin: origin, paymentID: dispute.payment_intent ?? dispute.charge, disputeID: dispute.id,
                        amount: try money(dispute.amount, dispute.currency), reason: dispute.reason
                    ))
            ])
        case "charge.dispute.closed":
            let dispute = try object(Dispute.self)
            guard let status = dispute.status else { throw MalformedPayload("stripe payload lacks data.object.status") }
            guard let outcome = DisputeOutcome(rawValue: status) else {
                return .ignored("stripe dispute \(dispute.id) closed as \(status), neither won nor lost")
            }
            return .events([
                .paymentDisputeClosed(
                    PaymentDisputeClosed(
                        origin: origin, paymentID: dispute.payment_intent ?? dispute.charge, disputeID: dispute.id,
                        amount: try money(dispute.amount, dispute.currency), outcome: outcome
                    ))
            ])
        case "payout.paid":
            let payout = try object(Payout.self)
            return .events([
                .payoutPaid(
                    PayoutPaid(
                        origin: origin, payoutID: payout.id, amount: try money(payout.amount, payout.currency), fees: nil,
                        arrivalDate: String(RFC3339.string(PayloadReading.instant(unixSeconds: payout.arrival_date)).prefix(10)), paymentRefs: []
                    ))
            ])
        case "invoice.payment_failed":
            let invoice = try object(Invoice.self)
            return .events([
                .invoicePaymentFailed(
                    InvoicePaymentFailed(
                        origin: origin, invoiceID: invoice.id, invoiceNumber: invoice.number, subscriptionRef: invoice.subscription, customerRef: invoice.customer,
                        amountDue: try money(invoice.amount_due, invoice.currency), attemptCount: invoice.attempt_count,
                        nextRetryAt: invoice.next_payment_attempt.map(PayloadReading.instant(unixSeconds:))
                    ))
            ])
        case "customer.created", "customer.updated":
            let customer = try object(Customer.self)
            return .events([
                .customerUpserted(
                    CustomerUpserted(
                        origin: origin, customerID: customer.id, email: customer.email, name: customer.name, phone: customer.phone,
                        locale: customer.preferred_locales?.first, country: customer.address?.country
                    ))
            ])
        default:
            return .ignored("stripe event type \(event.type) is not mapped")
        }
    }

    /// A subscription as a canonical state. Stripe subscriptions can hold several items; the plan is
    /// the first item's price (its lookup key when it has one) and the quantity that item's.
    func state(_ subscription: Subscription) throws(MalformedPayload) -> SubscriptionState {
        guard let item = subscription.items.data.first else { throw MalformedPayload("stripe subscription \(subscription.id) has no items") }
        let interval = try item.price.recurring.map { recurring throws(MalformedPayload) in
            guard let unit = BillingInterval.Unit(rawValue: recurring.interval) else {
                throw MalformedPayload("stripe price \(item.price.id) has an unknown interval '\(recurring.interval)'")
            }
            return BillingInterval(unit: unit, count: recurring.interval_count)
        }
        let currency = try PayloadReading.currency(item.price.currency, provider: "stripe")
        return SubscriptionState(
            subscriptionID: subscription.id, customerRef: subscription.customer, planCode: item.price.lookup_key ?? item.price.id,
            interval: interval, quantity: item.quantity ?? 1, unitPrice: item.price.unit_amount.map { Money(amountMinor: $0, currency: currency) },
            providerStatus: subscription.status,
            currentPeriodEnd: (item.current_period_end ?? subscription.current_period_end).map(PayloadReading.instant(unixSeconds:))
        )
    }

    /// What a `customer.subscription.updated` event means, from the new status and the fields that
    /// changed: a status move (past due, paused, canceled, active again) or a pause-collection
    /// switch wins; anything else (plan, quantity, price) is a change.
    static func change(_ subscription: Subscription, previous: PreviousAttributes?) -> SubscriptionChange {
        let statusChanged = previous?.status != nil
        switch subscription.status {
        case "canceled": return .canceled
        case "past_due" where statusChanged, "unpaid" where statusChanged: return .pastDue
        case "paused" where statusChanged: return .paused
        case "active" where statusChanged && previous?.status == "paused": return .resumed
        case "active" where statusChanged: return .activated  // out of a trial, incomplete or past-due state
        default: break
        }
        switch (previous?.pauseCollection, subscription.pause_collection != nil) {
        case (false?, true): return .paused
        case (true?, false): return .resumed
        default: return .changed
        }
    }
}
