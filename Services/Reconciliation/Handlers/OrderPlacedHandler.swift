import Contracts
import Foundation
import Logging
import Storage

/// Records the order each `order.placed` announces, inside the consumer inbox's transaction:
/// load what is recorded, decide (`OrderExpectation`), save.
///
/// An order placed again with the same facts is `ignored`; with different facts its event is
/// dead-lettered (the error names the field) and the first statement stays.
struct OrderPlacedHandler: Sendable {
    let logger: Logger

    func handle(_ event: InboxEvent<OrderPlaced>, orders: some ExpectedOrderStore) async throws -> InboxOutcome {
        let placed = ExpectedOrder(event.data, eventID: event.envelope.id)
        switch OrderExpectation.decide(recorded: try await orders.order(placed.orderID), placed: placed) {
        case .record(let order):
            try await orders.insert(order)
            return .applied
        case .alreadyRecorded:
            return .ignored
        case .conflict(let conflict):
            throw conflict
        }
    }
}
