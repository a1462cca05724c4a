/// One line of an order from the product's own backend.
public struct OrderLine: Codable, Sendable, Equatable {
    public var sku: String
    public var description: String
    public var quantity: Int
    public var unitPrice: Money
    /// Tax rate in basis points (1 % = 100).
    public var taxRateBps: Int
    public var tax: Money
    public var total: Money

    public init(sku: String, description: String, quantity: Int, unitPrice: Money, taxRateBps: Int, tax: Money, total: Money) {
        self.sku = sku
        self.description = description
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.taxRateBps = taxRateBps
        self.tax = tax
        self.total = total
    }

    enum CodingKeys: String, CodingKey {
        case sku, description, quantity, unitPrice = "unit_price", taxRateBps = "tax_rate_bps", tax, total
    }
}

/// An order the product's backend placed. Keyed by order.
public struct OrderPlaced: EventPayload {
    public static let eventType = "tally.order.placed.v1"
    public static let topic = TallyTopic.orders

    public var origin: EventOrigin
    public var orderID: String
    public var customerRef: String?
    public var lines: [OrderLine]
    public var subtotal: Money
    public var tax: Money
    public var total: Money
    /// The provider payment expected to pay this order, when known.
    public var paymentRef: String?

    public init(origin: EventOrigin, orderID: String, customerRef: String?, lines: [OrderLine], subtotal: Money, tax: Money, total: Money, paymentRef: String?) {
        self.origin = origin
        self.orderID = orderID
        self.customerRef = customerRef
        self.lines = lines
        self.subtotal = subtotal
        self.tax = tax
        self.total = total
        self.paymentRef = paymentRef
    }

    public var partitionKey: String { "order:\(orderID)" }

    enum CodingKeys: String, CodingKey {
        case origin, orderID = "order_id", customerRef = "customer_ref", lines, subtotal, tax, total, paymentRef = "payment_ref"
    }
}

/// An order the product's backend canceled. Keyed by order.
public struct OrderCanceled: EventPayload {
    public static let eventType = "tally.order.canceled.v1"
    public static let topic = TallyTopic.orders

    public var origin: EventOrigin
    public var orderID: String
    public var reason: String?

    public init(origin: EventOrigin, orderID: String, reason: String?) {
        self.origin = origin
        self.orderID = orderID
        self.reason = reason
    }

    public var partitionKey: String { "order:\(orderID)" }

    enum CodingKeys: String, CodingKey { case origin, orderID = "order_id", reason }
}
