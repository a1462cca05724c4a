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
        guard let occurredAt = RFC3339.normalize(notification.occurred_at) else {
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
            return .events([.paymentCaptured(PaymentCaptured(
                origin: PayloadReading.origin(raw, occurredAt: occurredAt),
                paymentID: transaction.id,
                amount: Money(amountMinor: try PayloadReading.minorUnits(totals.total, provider: "paddle", field: "details.totals.total"), currency: currency),
                fee: fee,
                customerRef: transaction.customer_id,
                orderRef: nil,
                subscriptionRef: transaction.subscription_id,
                invoiceRef: nil
            ))])
        case "adjustment.created", "adjustment.updated":
            let adjustment = try PayloadReading.decode(AdjustmentNotification.self, body, provider: "paddle").data
            // Only an approved refund moves money back; credits and pending adjustments do not.
            guard adjustment.action == "refund" else { return .ignored("paddle adjustment action \(adjustment.action) is not a refund") }
            guard adjustment.status == "approved" else { return .ignored("paddle refund \(adjustment.id) is \(adjustment.status), not approved") }
            let currency = try PayloadReading.currency(adjustment.totals.currency_code, provider: "paddle")
            return .events([.paymentRefunded(PaymentRefunded(
                origin: PayloadReading.origin(raw, occurredAt: occurredAt), paymentID: adjustment.transaction_id, refundID: adjustment.id,
                amount: Money(amountMinor: try PayloadReading.minorUnits(adjustment.totals.total, provider: "paddle", field: "data.totals.total"), currency: currency),
                full: adjustment.type == "full"
            ))])
        default:
            return .ignored("paddle event type \(notification.event_type) is not mapped")
        }
    }
}
