import Contracts
import Foundation

/// An order reconciliation expects money for: what was sold, the first leg of
/// order ↔ payment ↔ payout ↔ bank line. Recorded from `order.placed`.
struct ExpectedOrder: Equatable, Sendable {
    var orderID: String
    var total: Money
    /// The provider payment expected to pay it, when the product's backend knew it.
    var paymentRef: String?
    /// When the order was placed (the event's `origin.occurred_at`).
    var placedAt: Date
    /// The canonical event it was recorded from.
    var sourceEventID: String

    /// The expectation an `order.placed` event states.
    init(_ placed: OrderPlaced, eventID: String) {
        self.init(orderID: placed.orderID, total: placed.total, paymentRef: placed.paymentRef, placedAt: placed.origin.occurredAt, sourceEventID: eventID)
    }

    init(orderID: String, total: Money, paymentRef: String?, placedAt: Date, sourceEventID: String) {
        self.orderID = orderID
        self.total = total
        self.paymentRef = paymentRef
        self.placedAt = placedAt
        self.sourceEventID = sourceEventID
    }
}

/// What an `order.placed` does to the expectations, decided from what is recorded.
///
/// - A new order is recorded.
/// - The same order stated again with the same facts (a redelivery under another event id, or a
///   replay) changes nothing.
/// - The same order with different facts is a conflict naming the first field that differs; it
///   is never silently overwritten (the first statement stays until an operator decides).
enum OrderExpectation {
    enum Decision: Equatable {
        case record(ExpectedOrder)
        case alreadyRecorded
        case conflict(OrderConflict)
    }

    static func decide(recorded: ExpectedOrder?, placed: ExpectedOrder) -> Decision {
        guard let recorded else { return .record(placed) }
        let differences: [(String, String, String)] = [
            ("total.currency", recorded.total.currency.rawValue, placed.total.currency.rawValue),
            ("total.amount_minor", String(recorded.total.amountMinor), String(placed.total.amountMinor)),
            ("payment_ref", recorded.paymentRef ?? "none", placed.paymentRef ?? "none"),
            ("placed_at", RFC3339.string(recorded.placedAt), RFC3339.string(placed.placedAt)),
        ]
        guard let (field, was, now) = differences.first(where: { $0.1 != $0.2 }) else { return .alreadyRecorded }
        return .conflict(OrderConflict(orderID: placed.orderID, field: field, recorded: was, received: now))
    }
}

/// An order stated twice with different facts. Its event is dead-lettered with this as the reason.
struct OrderConflict: Error, Equatable, CustomStringConvertible {
    var orderID: String
    var field: String
    var recorded: String
    var received: String
    var description: String { "order \(orderID) was placed again with a different \(field): recorded \(recorded), received \(received)" }
}
