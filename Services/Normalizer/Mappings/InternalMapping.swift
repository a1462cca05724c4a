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

    /// `usage.recorded`: units of a metric used under a subscription, once per transaction id.
    struct Usage: Decodable {
        struct Subscription: Decodable {
            let provider: String
            let subscription_id: String
        }
        let transaction_id: String
        let subscription: Subscription
        let customer_ref: String?
        let metric: String
        let quantity: Int64
        /// When the usage happened; the event's `occurred_at` when left out.
        let recorded_at: String?
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
        case "usage.recorded":
            return .events([.usageRecorded(try Self.usage(try PayloadReading.decode(Envelope<Usage>.self, body, provider: "internal").data, origin: origin))])
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

    /// A usage report as its canonical event, or what about it is malformed.
    static func usage(_ usage: Usage, origin: EventOrigin) throws(MalformedPayload) -> UsageRecorded {
        guard (1...200).contains(usage.transaction_id.count) else { throw MalformedPayload("internal usage transaction_id must be 1 to 200 characters") }
        guard let provider = WebhookProvider(rawValue: usage.subscription.provider) else {
            throw MalformedPayload("internal usage subscription.provider '\(usage.subscription.provider.prefix(40))' is not a provider")
        }
        guard !usage.subscription.subscription_id.isEmpty else { throw MalformedPayload("internal usage subscription.subscription_id is empty") }
        guard Self.isMetric(usage.metric) else {
            throw MalformedPayload("internal usage metric '\(usage.metric.prefix(70))' is not a metric name ([a-z][a-z0-9_.-]{0,63})")
        }
        guard usage.quantity >= 0 else { throw MalformedPayload("internal usage quantity \(usage.quantity) is negative") }
        var recordedAt = origin.occurredAt
        if let text = usage.recorded_at {
            guard let parsed = RFC3339.parse(text) else { throw MalformedPayload("internal usage recorded_at is not an RFC 3339 time: '\(text.prefix(40))'") }
            recordedAt = parsed
        }
        return UsageRecorded(
            origin: origin, transactionID: usage.transaction_id,
            subscription: SubscriptionReference(provider: provider, subscriptionID: usage.subscription.subscription_id), customerRef: usage.customer_ref,
            metric: usage.metric, quantity: usage.quantity, recordedAt: recordedAt)
    }

    /// `[a-z][a-z0-9_.-]{0,63}`, as plans name their limits.
    static func isMetric(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, ("a"..."z").contains(first), text.unicodeScalars.count <= 64 else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "." || $0 == "-" }
    }
}
