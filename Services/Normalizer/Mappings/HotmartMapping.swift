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
                let date_next_charge: Int64?
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

    struct CancellationPostback: Decodable {
        struct Payload: Decodable {
            struct Subscriber: Decodable { let code: String }
            struct Subscription: Decodable {
                struct Plan: Decodable { let id: Int64 }
                let id: Int64
                let plan: Plan
            }
            let subscriber: Subscriber
            let subscription: Subscription
            let date_next_charge: Int64?
            let cancellation_date: Int64?
        }
        let data: Payload
    }

    struct SwitchPlanPostback: Decodable {
        struct Payload: Decodable {
            struct Subscription: Decodable {
                let subscriber_code: String
                let status: String
            }
            struct Plan: Decodable {
                let id: Int64
                let current: Bool
            }
            let switch_plan_date: Int64?
            let subscription: Subscription
            let plans: [Plan]
        }
        let data: Payload
    }

    /// A decimal Hotmart price in minor units, exactly, or refused: never rounded.
    static func money(_ price: PurchasePostback.Payload.Purchase.Price) throws(MalformedPayload) -> Money {
        let currency = try PayloadReading.currency(price.currency_value, provider: "hotmart")
        guard let amount = Money(major: price.value, currency: currency) else {
            throw MalformedPayload("hotmart price \(price.value) \(currency) has more decimals than the currency allows")
        }
        return amount
    }

    /// Hotmart times are milliseconds since the epoch.
    static func time(_ millis: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(millis) / 1000) }

    func normalize(_ raw: WebhookReceived, body: [UInt8]) throws(MalformedPayload) -> Normalization {
        let postback = try PayloadReading.decode(Postback.self, body, provider: "hotmart")
        switch postback.event {
        case "PURCHASE_APPROVED", "PURCHASE_COMPLETE":
            let payload = try PayloadReading.decode(PurchasePostback.self, body, provider: "hotmart").data
            let amount = try Self.money(payload.purchase.price)
            let millis = payload.purchase.approved_date ?? postback.creation_date
            return .events([
                .paymentCaptured(
                    PaymentCaptured(
                        origin: PayloadReading.origin(raw, occurredAt: Self.time(millis)),
                        paymentID: payload.purchase.transaction,
                        amount: amount,
                        fee: nil,
                        customerRef: payload.subscription?.subscriber?.code,
                        orderRef: nil,
                        subscriptionRef: payload.subscription?.subscriber?.code,
                        invoiceRef: nil
                    ))
            ])
        case "PURCHASE_REFUNDED", "PURCHASE_CHARGEBACK":
            let payload = try PayloadReading.decode(PurchasePostback.self, body, provider: "hotmart").data
            let amount = try Self.money(payload.purchase.price)
            let origin = PayloadReading.origin(raw, occurredAt: Self.time(postback.creation_date))
            let transaction = payload.purchase.transaction
            if postback.event == "PURCHASE_REFUNDED" {
                return .events([.paymentRefunded(PaymentRefunded(origin: origin, paymentID: transaction, refundID: "\(transaction):refund", amount: amount, full: true))])
            }
            return .events([.paymentDisputed(PaymentDisputed(origin: origin, paymentID: transaction, disputeID: "\(transaction):chargeback", amount: amount, reason: nil))])
        case "PURCHASE_CANCELED", "PURCHASE_DELAYED":
            // A purchase (or a subscription renewal) whose payment did not go through: the boleto or
            // pix expired, or the card was declined.
            let payload = try PayloadReading.decode(PurchasePostback.self, body, provider: "hotmart").data
            let amount = try Self.money(payload.purchase.price)
            return .events([
                .paymentFailed(
                    PaymentFailed(
                        origin: PayloadReading.origin(raw, occurredAt: Self.time(postback.creation_date)), paymentID: payload.purchase.transaction,
                        amount: amount, reasonCode: postback.event == "PURCHASE_CANCELED" ? "purchase_canceled" : "payment_delayed",
                        customerRef: payload.subscription?.subscriber?.code, subscriptionRef: payload.subscription?.subscriber?.code, invoiceRef: nil
                    ))
            ])
        case "SUBSCRIPTION_CANCELLATION":
            // The subscriber code is the subscription's id everywhere else Hotmart names it; the
            // plan's price here has no currency, so the state states none.
            let payload = try PayloadReading.decode(CancellationPostback.self, body, provider: "hotmart").data
            let state = SubscriptionState(
                subscriptionID: payload.subscriber.code, customerRef: payload.subscriber.code, planCode: String(payload.subscription.plan.id),
                interval: nil, quantity: 1, unitPrice: nil, providerStatus: "CANCELLED",
                currentPeriodEnd: payload.date_next_charge.map(Self.time)
            )
            let occurred = Self.time(payload.cancellation_date ?? postback.creation_date)
            return .events([.subscription(.canceled, state, origin: PayloadReading.origin(raw, occurredAt: occurred), reason: nil)])
        case "SWITCH_PLAN":
            let payload = try PayloadReading.decode(SwitchPlanPostback.self, body, provider: "hotmart").data
            guard let plan = payload.plans.first(where: \.current) else { throw MalformedPayload("hotmart SWITCH_PLAN names no current plan") }
            let state = SubscriptionState(
                subscriptionID: payload.subscription.subscriber_code, customerRef: payload.subscription.subscriber_code, planCode: String(plan.id),
                interval: nil, quantity: 1, unitPrice: nil, providerStatus: payload.subscription.status, currentPeriodEnd: nil
            )
            let occurred = Self.time(payload.switch_plan_date ?? postback.creation_date)
            return .events([.subscription(.changed, state, origin: PayloadReading.origin(raw, occurredAt: occurred), reason: nil)])
        default:
            return .ignored("hotmart event \(postback.event) is not mapped")
        }
    }
}
