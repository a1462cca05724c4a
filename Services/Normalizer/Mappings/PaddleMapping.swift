import Contracts
import Foundation

/// Paddle Billing notifications (`event_id`, `event_type`, `occurred_at`, `data`) to canonical events.
struct PaddleMapping: ProviderMapping {
    struct Notification: Decodable {
        let event_id: String
        let event_type: String
        let occurred_at: String
    }

    struct TransactionNotification: Decodable {
        struct Transaction: Decodable {
            struct Details: Decodable { let totals: Totals }
            struct Totals: Decodable {
                let total: String
                let fee: String?
                let currency_code: String
            }
            let id: String
            let customer_id: String?
            let subscription_id: String?
            let details: Details
        }
        let data: Transaction
    }

    struct FailedTransactionNotification: Decodable {
        struct Transaction: Decodable {
            struct Details: Decodable { let totals: Totals }
            struct Totals: Decodable {
                let total: String
                let currency_code: String
            }
            struct Payment: Decodable {
                let status: String
                let error_code: String?
                let created_at: String?
            }
            let id: String
            let customer_id: String?
            let subscription_id: String?
            let invoice_id: String?
            let details: Details
            let payments: [Payment]?
        }
        let data: Transaction
    }

    struct SubscriptionNotification: Decodable {
        struct Subscription: Decodable {
            struct Period: Decodable { let ends_at: String }
            struct Cycle: Decodable {
                let interval: String
                let frequency: Int
            }
            struct Item: Decodable {
                struct Price: Decodable {
                    struct UnitPrice: Decodable {
                        let amount: String
                        let currency_code: String
                    }
                    let id: String
                    let unit_price: UnitPrice?
                }
                let price: Price
                let quantity: Int
            }
            let id: String
            let status: String
            let customer_id: String?
            let current_billing_period: Period?
            let billing_cycle: Cycle
            let items: [Item]
        }
        let data: Subscription
    }

    struct CustomerNotification: Decodable {
        struct Customer: Decodable {
            let id: String
            let name: String?
            let email: String?
            let locale: String?
        }
        let data: Customer
    }

    /// The subscription notifications and the lifecycle event each is. `subscription.created` with
    /// an active subscription is an activation too; a trialing one activates later.
    static let subscriptionChanges: [String: SubscriptionChange] = [
        "subscription.activated": .activated, "subscription.updated": .changed, "subscription.past_due": .pastDue,
        "subscription.paused": .paused, "subscription.resumed": .resumed, "subscription.canceled": .canceled,
    ]

    struct AdjustmentNotification: Decodable {
        struct Adjustment: Decodable {
            struct Totals: Decodable {
                let total: String
                let currency_code: String
            }
            let id: String
            let action: String
            let type: String?
            let status: String
            let transaction_id: String
            let totals: Totals
        }
        let data: Adjustment
    }

    func normalize(_ raw: WebhookReceived, body: [UInt8]) throws(MalformedPayload) -> Normalization {
        let notification = try PayloadReading.decode(Notification.self, body, provider: "paddle")
        guard let occurredAt = RFC3339.parse(notification.occurred_at) else {
            throw MalformedPayload("paddle payload occurred_at is not an RFC 3339 time: '\(notification.occurred_at)'")
        }
        switch notification.event_type {
        case "transaction.completed":
            let transaction = try PayloadReading.decode(TransactionNotification.self, body, provider: "paddle").data
            let totals = transaction.details.totals
            let currency = try PayloadReading.currency(totals.currency_code, provider: "paddle")
            let fee = try totals.fee.map { fee throws(MalformedPayload) in
                Money(amountMinor: try PayloadReading.minorUnits(fee, provider: "paddle", field: "details.totals.fee"), currency: currency)
            }
            return .events([
                .paymentCaptured(
                    PaymentCaptured(
                        origin: PayloadReading.origin(raw, occurredAt: occurredAt),
                        paymentID: transaction.id,
                        amount: Money(amountMinor: try PayloadReading.minorUnits(totals.total, provider: "paddle", field: "details.totals.total"), currency: currency),
                        fee: fee,
                        customerRef: transaction.customer_id,
                        orderRef: nil,
                        subscriptionRef: transaction.subscription_id,
                        invoiceRef: nil
                    ))
            ])
        case "transaction.payment_failed":
            let transaction = try PayloadReading.decode(FailedTransactionNotification.self, body, provider: "paddle").data
            let currency = try PayloadReading.currency(transaction.details.totals.currency_code, provider: "paddle")
            // Each failed attempt is its own fact: the payment id names the transaction and the attempt.
            let failed = transaction.payments?.last(where: { $0.status == "error" || $0.status == "failed" })
            return .events([
                .paymentFailed(
                    PaymentFailed(
                        origin: PayloadReading.origin(raw, occurredAt: occurredAt), paymentID: transaction.id,
                        amount: Money(
                            amountMinor: try PayloadReading.minorUnits(transaction.details.totals.total, provider: "paddle", field: "details.totals.total"), currency: currency),
                        reasonCode: failed?.error_code ?? "unknown",
                        customerRef: transaction.customer_id, subscriptionRef: transaction.subscription_id, invoiceRef: transaction.invoice_id
                    ))
            ])
        case "subscription.created", "subscription.activated", "subscription.updated", "subscription.past_due",
            "subscription.paused", "subscription.resumed", "subscription.canceled":
            let subscription = try PayloadReading.decode(SubscriptionNotification.self, body, provider: "paddle").data
            let change: SubscriptionChange
            if notification.event_type == "subscription.created" {
                guard subscription.status == "active" else {
                    return .ignored("paddle subscription \(subscription.id) was created \(subscription.status); subscription.activated follows")
                }
                change = .activated
            } else if let mapped = Self.subscriptionChanges[notification.event_type] {
                change = mapped
            } else {
                return .ignored("paddle event type \(notification.event_type) is not mapped")
            }
            return .events([.subscription(change, try state(subscription), origin: PayloadReading.origin(raw, occurredAt: occurredAt), reason: nil)])
        case "customer.created", "customer.updated":
            let customer = try PayloadReading.decode(CustomerNotification.self, body, provider: "paddle").data
            return .events([
                .customerUpserted(
                    CustomerUpserted(
                        origin: PayloadReading.origin(raw, occurredAt: occurredAt), customerID: customer.id, email: customer.email, name: customer.name,
                        phone: nil, locale: customer.locale, country: nil
                    ))
            ])
        case "adjustment.created", "adjustment.updated":
            let adjustment = try PayloadReading.decode(AdjustmentNotification.self, body, provider: "paddle").data
            // Only an approved refund moves money back; credits and pending adjustments do not.
            guard adjustment.action == "refund" else { return .ignored("paddle adjustment action \(adjustment.action) is not a refund") }
            guard adjustment.status == "approved" else { return .ignored("paddle refund \(adjustment.id) is \(adjustment.status), not approved") }
            let currency = try PayloadReading.currency(adjustment.totals.currency_code, provider: "paddle")
            return .events([
                .paymentRefunded(
                    PaymentRefunded(
                        origin: PayloadReading.origin(raw, occurredAt: occurredAt), paymentID: adjustment.transaction_id, refundID: adjustment.id,
                        amount: Money(amountMinor: try PayloadReading.minorUnits(adjustment.totals.total, provider: "paddle", field: "data.totals.total"), currency: currency),
                        full: adjustment.type == "full"
                    ))
            ])
        default:
            return .ignored("paddle event type \(notification.event_type) is not mapped")
        }
    }

    /// A Paddle subscription as a canonical state: the first item's price is the plan.
    func state(_ subscription: SubscriptionNotification.Subscription) throws(MalformedPayload) -> SubscriptionState {
        guard let item = subscription.items.first else { throw MalformedPayload("paddle subscription \(subscription.id) has no items") }
        guard let unit = BillingInterval.Unit(rawValue: subscription.billing_cycle.interval) else {
            throw MalformedPayload("paddle subscription \(subscription.id) has an unknown billing interval '\(subscription.billing_cycle.interval)'")
        }
        let unitPrice = try item.price.unit_price.map { price throws(MalformedPayload) in
            Money(
                amountMinor: try PayloadReading.minorUnits(price.amount, provider: "paddle", field: "items.price.unit_price.amount"),
                currency: try PayloadReading.currency(price.currency_code, provider: "paddle"))
        }
        var periodEnd: Date?
        if let endsAt = subscription.current_billing_period?.ends_at {
            guard let normalized = RFC3339.parse(endsAt) else { throw MalformedPayload("paddle billing period end is not an RFC 3339 time: '\(endsAt)'") }
            periodEnd = normalized
        }
        return SubscriptionState(
            subscriptionID: subscription.id, customerRef: subscription.customer_id, planCode: item.price.id,
            interval: BillingInterval(unit: unit, count: subscription.billing_cycle.frequency), quantity: item.quantity,
            unitPrice: unitPrice, providerStatus: subscription.status, currentPeriodEnd: periodEnd
        )
    }
}
