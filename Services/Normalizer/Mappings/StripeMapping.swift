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
        let id: String
        let amount_received: Int64
        let currency: String
        let customer: String?
        let invoice: String?
        let metadata: [String: String]?
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
    }

    struct Payout: Decodable {
        let id: String
        let amount: Int64
        let currency: String
        let arrival_date: Int64
    }

    struct Invoice: Decodable {
        let id: String
        let customer: String?
        let subscription: String?
        let amount_due: Int64
        let currency: String
        let attempt_count: Int
        let next_payment_attempt: Int64?
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
        let origin = PayloadReading.origin(raw, occurredAt: PayloadReading.rfc3339(unixSeconds: event.created))
        func object<T: Decodable>(_ type: T.Type) throws(MalformedPayload) -> T {
            try PayloadReading.decode(Envelope<T>.self, body, provider: "stripe").data.object
        }
        func money(_ amount: Int64, _ currency: String) throws(MalformedPayload) -> Money {
            Money(amountMinor: amount, currency: try PayloadReading.currency(currency, provider: "stripe"))
        }
        switch event.type {
        case "payment_intent.succeeded":
            let intent = try object(PaymentIntent.self)
            return .events([.paymentCaptured(PaymentCaptured(
                origin: origin, paymentID: intent.id, amount: try money(intent.amount_received, intent.currency), fee: nil,
                customerRef: intent.customer, orderRef: intent.metadata?["order_id"], subscriptionRef: nil, invoiceRef: intent.invoice
            ))])
        case "charge.refunded":
            let charge = try object(Charge.self)
            guard let refund = charge.refunds?.data.max(by: { $0.created < $1.created }) else {
                throw MalformedPayload("stripe charge.refunded lists no refund")
            }
            return .events([.paymentRefunded(PaymentRefunded(
                origin: origin, paymentID: charge.payment_intent ?? charge.id, refundID: refund.id,
                amount: try money(refund.amount, charge.currency), full: charge.amount_refunded >= charge.amount
            ))])
        case "charge.dispute.created":
            let dispute = try object(Dispute.self)
            return .events([.paymentDisputed(PaymentDisputed(
                origin: origin, paymentID: dispute.payment_intent ?? dispute.charge, disputeID: dispute.id,
                amount: try money(dispute.amount, dispute.currency), reason: dispute.reason
            ))])
        case "payout.paid":
            let payout = try object(Payout.self)
            return .events([.payoutPaid(PayoutPaid(
                origin: origin, payoutID: payout.id, amount: try money(payout.amount, payout.currency), fees: nil,
                arrivalDate: String(PayloadReading.rfc3339(unixSeconds: payout.arrival_date).prefix(10)), paymentRefs: []
            ))])
        case "invoice.payment_failed":
            let invoice = try object(Invoice.self)
            return .events([.invoicePaymentFailed(InvoicePaymentFailed(
                origin: origin, invoiceID: invoice.id, subscriptionRef: invoice.subscription, customerRef: invoice.customer,
                amountDue: try money(invoice.amount_due, invoice.currency), attemptCount: invoice.attempt_count,
                nextRetryAt: invoice.next_payment_attempt.map(PayloadReading.rfc3339(unixSeconds:))
            ))])
        case "customer.created", "customer.updated":
            let customer = try object(Customer.self)
            return .events([.customerUpserted(CustomerUpserted(
                origin: origin, customerID: customer.id, email: customer.email, name: customer.name, phone: customer.phone,
                locale: customer.preferred_locales?.first, country: customer.address?.country
            ))])
        default:
            return .ignored("stripe event type \(event.type) is not mapped")
        }
    }
}
