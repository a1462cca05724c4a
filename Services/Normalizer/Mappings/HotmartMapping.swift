import Contracts
import Foundation

/// Hotmart postbacks (`id`, `event`, `creation_date` in ms, `data`) to canonical events. Hotmart
/// sends money as a decimal `value`; it is converted to minor units exactly or refused.
/// Buyer e-mail and name are personal data and are never copied into payment events.
struct HotmartMapping: ProviderMapping {
    struct Postback: Decodable {
        let id: String
        let event: String
        let creation_date: Int64
    }

    struct PurchasePostback: Decodable {
        struct Payload: Decodable {
            struct Purchase: Decodable {
                struct Price: Decodable {
                    let value: Decimal
                    let currency_value: String
                }
                let transaction: String
                let approved_date: Int64?
                let price: Price
            }
            struct Subscription: Decodable {
                struct Subscriber: Decodable { let code: String }
                let subscriber: Subscriber?
            }
            let purchase: Purchase
            let subscription: Subscription?
        }
        let data: Payload
    }

    func normalize(_ raw: WebhookReceived, body: [UInt8]) throws(MalformedPayload) -> Normalization {
        let postback = try PayloadReading.decode(Postback.self, body, provider: "hotmart")
        switch postback.event {
        case "PURCHASE_APPROVED", "PURCHASE_COMPLETE":
            let payload = try PayloadReading.decode(PurchasePostback.self, body, provider: "hotmart").data
            let currency = try PayloadReading.currency(payload.purchase.price.currency_value, provider: "hotmart")
            guard let amount = Money(major: payload.purchase.price.value, currency: currency) else {
                throw MalformedPayload("hotmart price \(payload.purchase.price.value) \(currency) has more decimals than the currency allows")
            }
            let millis = payload.purchase.approved_date ?? postback.creation_date
            return .events([.paymentCaptured(PaymentCaptured(
                origin: PayloadReading.origin(raw, occurredAt: RFC3339.string(Date(timeIntervalSince1970: TimeInterval(millis) / 1000))),
                paymentID: payload.purchase.transaction,
                amount: amount,
                fee: nil,
                customerRef: payload.subscription?.subscriber?.code,
                orderRef: nil,
                subscriptionRef: nil,
                invoiceRef: nil
            ))])
        case "PURCHASE_REFUNDED", "PURCHASE_CHARGEBACK":
            let payload = try PayloadReading.decode(PurchasePostback.self, body, provider: "hotmart").data
            let currency = try PayloadReading.currency(payload.purchase.price.currency_value, provider: "hotmart")
            guard let amount = Money(major: payload.purchase.price.value, currency: currency) else {
                throw MalformedPayload("hotmart price \(payload.purchase.price.value) \(currency) has more decimals than the currency allows")
            }
            let origin = PayloadReading.origin(raw, occurredAt: RFC3339.string(Date(timeIntervalSince1970: TimeInterval(postback.creation_date) / 1000)))
            let transaction = payload.purchase.transaction
            if postback.event == "PURCHASE_REFUNDED" {
                return .events([.paymentRefunded(PaymentRefunded(origin: origin, paymentID: transaction, refundID: "\(transaction):refund", amount: amount, full: true))])
            }
            return .events([.paymentDisputed(PaymentDisputed(origin: origin, paymentID: transaction, disputeID: "\(transaction):chargeback", amount: amount, reason: nil))])
        default:
            return .ignored("hotmart event \(postback.event) is not mapped")
        }
    }
}
