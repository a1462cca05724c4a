import Contracts
import Foundation
import Hummingbird
import ServiceRuntime
import Storage

/// Admin routes under `/admin/orgs/{org}`: `GET orders/{orderID}`, what reconciliation expects
/// for one order. Every role may read it.
struct ExpectedOrderRoutes: Sendable {
    let queries: ExpectedOrderQueries

    struct OrderResponse: Encodable, ResponseEncodable {
        var orderID: String
        var total: Money
        var paymentRef: String?
        var placedAt: String
        var sourceEventID: String
        enum CodingKeys: String, CodingKey {
            case orderID = "order_id", total, paymentRef = "payment_ref", placedAt = "placed_at", sourceEventID = "source_event_id"
        }

        init(_ order: ExpectedOrder) {
            self.orderID = order.orderID
            self.total = order.total
            self.paymentRef = order.paymentRef
            self.placedAt = RFC3339.string(order.placedAt)
            self.sourceEventID = order.sourceEventID
        }
    }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("orders/:orderID") { _, context -> OrderResponse in
            let principal = try context.requirePrincipal()
            let orderID = try RequestInput.text(context.parameters.get("orderID"), field: "orderID", maxCharacters: 200) ?? ""
            guard let order = try await queries.order(org: try principal.tenant(), orderID: orderID) else {
                throw Problem.notFound("no order \(orderID) is expected in this org")
            }
            return OrderResponse(order)
        }
    }
}
