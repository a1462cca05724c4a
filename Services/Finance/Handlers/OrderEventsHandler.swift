import Contracts
import Foundation
import Logging
import Metrics
import PostgresNIO

/// Applies `order.placed` (issues the order's invoice, once) and `order.canceled` (voids it when
/// nothing was paid on it) inside the consumer inbox's transaction, through `InvoiceDesk`.
/// An order whose lines cannot be invoiced goes to the dead-letter topic with the line and rule.
struct OrderEventsHandler: Sendable {
    let desk: InvoiceDesk
    let logger: Logger

    func placed(_ event: InboxEvent<OrderPlaced>, on connection: PostgresConnection) async throws -> InboxOutcome {
        let order = event.data
        switch try await desk.issue(order: order, cause: cause(event, order.origin), on: connection) {
        case .success(let issued):
            if issued.created {
                logger.info("invoice issued", metadata: ["event_id": "\(event.envelope.id)", "invoice": "\(issued.invoice.id)", "number": "\(issued.invoice.number)"])
            }
            return issued.created ? .applied : .ignored
        case .failure(.lines(let error)):
            throw UndecodableEvent(eventID: event.envelope.id, eventType: OrderPlaced.eventType, reason: "the order cannot be invoiced: \(error)")
        case .failure(let other):
            throw UndecodableEvent(eventID: event.envelope.id, eventType: OrderPlaced.eventType, reason: "the order cannot be invoiced: \(other)")
        }
    }

    func canceled(_ event: InboxEvent<OrderCanceled>, on connection: PostgresConnection) async throws -> InboxOutcome {
        let store = InvoiceStore(schema: desk.schema, connection: connection, logger: logger)
        try await store.lockReference("order:\(event.data.orderID)")
        guard let invoice = try await store.invoice(orderID: event.data.orderID) else { return .ignored }
        let reason = "order canceled" + (event.data.reason.map { ": \($0.prefix(150))" } ?? "")
        switch try await desk.void(invoiceID: invoice.id, reason: reason, cause: cause(event, event.data.origin), on: connection) {
        case .success: return .applied
        case .failure(.hasPayments(let paid)):
            logger.notice("canceled order's invoice has payments; kept", metadata: ["invoice": "\(invoice.id)", "paid_minor": "\(paid)"])
            return .ignored
        case .failure(.hasPlan(let plan)):
            logger.notice("canceled order's invoice has an active payment plan; kept", metadata: ["invoice": "\(invoice.id)", "plan": "\(plan)"])
            return .ignored
        case .failure(.alreadyVoid), nil: return .ignored
        }
    }

    private func cause<P: EventPayload>(_ event: InboxEvent<P>, _ origin: EventOrigin) -> InvoiceDesk.Cause {
        InvoiceDesk.Cause(
            tenant: event.tenant, eventID: event.envelope.id, eventType: P.eventType, correlationID: event.envelope.correlationid, occurredAt: origin.occurredAt)
    }
}
