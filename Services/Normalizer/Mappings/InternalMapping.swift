import Contracts
import Foundation

/// The product's own backend (signed with Standard Webhooks): `{id, type, occurred_at, data}`
/// with money already in minor units.
struct InternalMapping: ProviderMapping {
    struct Event: Decodable {
        let id: String
        let type: String
        let occurred_at: String
    }

    struct Envelope<Payload: Decodable>: Decodable { let data: Payload }

    struct Order: Decodable {
        struct Line: Decodable {
            let sku: String
            let description: String
            let quantity: Int
            let unit_price_minor: Int64
            let tax_rate_bps: Int
            let tax_minor: Int64
            let total_minor: Int64
        }
        let order_id: String
        let customer_id: String?
        let currency: String
        let lines: [Line]
        let subtotal_minor: Int64
        let tax_minor: Int64
        let total_minor: Int64
        let payment_reference: String?
    }

    /// `checkout.started`: the backend started a payment for an amount; nothing is charged yet.
    struct Checkout: Decodable {
        let payment_id: String
        let amount_minor: Int64
        let currency: String
        let customer_ref: String?
        let order_id: String?
    }

    struct Cancellation: Decodable {
        let order_id: String
        let reason: String?
    }

    struct Customer: Decodable {
        let customer_id: String
        let email: String?
        let name: String?
        let phone: String?
        let locale: String?
        let country: String?
    }

    func normalize(_ raw: WebhookReceived, body: [UInt8]) throws(MalformedPayload) -> Normalization {
        let event = try PayloadReading.decode(Event.self, body, provider: "internal")
        guard let occurredAt = RFC3339.parse(event.occurred_at) else {
            throw MalformedPayload("internal payload occurred_at is not an RFC 3339 time: '\(event.occurred_at)'")
        }
        let origin = PayloadReading.origin(raw, occurredAt: occurredAt)
        switch event.type {
        case "order.placed":
            let order = try PayloadReading.decode(Envelope<Order>.self, body, provider: "internal").data
            let currency = try PayloadReading.currency(order.currency, provider: "internal")
            func money(_ minor: Int64) -> Money { Money(amountMinor: minor, currency: currency) }
            let lines = order.lines.map {
                OrderLine(
                    sku: $0.sku, description: $0.description, quantity: $0.quantity, unitPrice: money($0.unit_price_minor),
                    taxRateBps: $0.tax_rate_bps, tax: money($0.tax_minor), total: money($0.total_minor))
            }
            guard lines.reduce(Int64(0), { $0 + $1.total.amountMinor }) == order.subtotal_minor + order.tax_minor || lines.isEmpty,
                order.subtotal_minor + order.tax_minor == order.total_minor
            else {
                throw MalformedPayload("internal order \(order.order_id) totals do not add up: lines, subtotal + tax and total disagree")
            }
            return .events([
                .orderPlaced(
                    OrderPlaced(
                        origin: origin, orderID: order.order_id, customerRef: order.customer_id, lines: lines,
                        subtotal: money(order.subtotal_minor), tax: money(order.tax_minor), total: money(order.total_minor), paymentRef: order.payment_reference
                    ))
            ])
        case "checkout.started":
            let checkout = try PayloadReading.decode(Envelope<Checkout>.self, body, provider: "internal").data
            let currency = try PayloadReading.currency(checkout.currency, provider: "internal")
            return .events([
                .paymentIntentCreated(
                    PaymentIntentCreated(
                        origin: origin, paymentID: checkout.payment_id, amount: Money(amountMinor: checkout.amount_minor, currency: currency),
                        customerRef: checkout.customer_ref, orderRef: checkout.order_id, subscriptionRef: nil, invoiceRef: nil
                    ))
            ])
        case "order.canceled":
            let cancellation = try PayloadReading.decode(Envelope<Cancellation>.self, body, provider: "internal").data
            return .events([.orderCanceled(OrderCanceled(origin: origin, orderID: cancellation.order_id, reason: cancellation.reason))])
        case "customer.upserted":
            let customer = try PayloadReading.decode(Envelope<Customer>.self, body, provider: "internal").data
            return .events([
                .customerUpserted(
                    CustomerUpserted(
                        origin: origin, customerID: customer.customer_id, email: customer.email, name: customer.name,
                        phone: customer.phone, locale: customer.locale, country: customer.country
                    ))
            ])
        default:
            return .ignored("internal event type \(event.type) is not mapped")
        }
    }
}
