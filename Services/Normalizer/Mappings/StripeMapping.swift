import Contracts
import Foundation

/// Stripe events (`id`, `type`, `created`, `data.object`) to canonical events.
struct StripeMapping: ProviderMapping {
    struct Event: Decodable {
        let id: String
        let type: String
        let created: Int64
    }

    struct PaymentIntentEvent: Decodable {
        struct Data: Decodable { let object: PaymentIntent }
        struct PaymentIntent: Decodable {
            let id: String
            let amount_received: Int64
            let currency: String
            let customer: String?
            let invoice: String?
            let metadata: [String: String]?
        }
        let data: Data
    }

    func normalize(_ raw: WebhookReceived, body: [UInt8]) throws(MalformedPayload) -> Normalization {
        let event = try PayloadReading.decode(Event.self, body, provider: "stripe")
        let occurredAt = PayloadReading.rfc3339(unixSeconds: event.created)
        switch event.type {
        case "payment_intent.succeeded":
            let intent = try PayloadReading.decode(PaymentIntentEvent.self, body, provider: "stripe").data.object
            let currency = try PayloadReading.currency(intent.currency, provider: "stripe")
            return .events([.paymentCaptured(PaymentCaptured(
                origin: PayloadReading.origin(raw, occurredAt: occurredAt),
                paymentID: intent.id,
                amount: Money(amountMinor: intent.amount_received, currency: currency),
                fee: nil,
                customerRef: intent.customer,
                orderRef: intent.metadata?["order_id"],
                subscriptionRef: nil,
                invoiceRef: intent.invoice
            ))])
        default:
            return .ignored("stripe event type \(event.type) is not mapped")
        }
    }
}
