import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// The expected orders of one org; calls run inside the caller's tenant transaction.
protocol ExpectedOrderStore: Sendable {
    func order(_ orderID: String) async throws -> ExpectedOrder?
    /// Records `order`; an order already recorded is kept as it is.
    func insert(_ order: ExpectedOrder) async throws
}

/// The PostgreSQL form, on a connection whose transaction set the org (`setTenant`).
struct PostgresExpectedOrderStore: ExpectedOrderStore {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger

    func order(_ orderID: String) async throws -> ExpectedOrder? {
        let rows = try await connection.query(
            """
            SELECT order_id, total_minor, currency, payment_ref, placed_at, source_event_id
            FROM \(unescaped: schema.name).expected_orders WHERE order_id = \(orderID)
            """, logger: logger)
        for try await (id, minor, currency, paymentRef, placedAt, eventID) in rows.decode((String, Int64, String, String?, Date, String).self) {
            guard let code = CurrencyCode(rawValue: currency) else { throw UnreadableOrderRow(orderID: id) }
            return ExpectedOrder(orderID: id, total: Money(amountMinor: minor, currency: code), paymentRef: paymentRef, placedAt: placedAt, sourceEventID: eventID)
        }
        return nil
    }

    func insert(_ order: ExpectedOrder) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).expected_orders (org_id, order_id, total_minor, currency, payment_ref, placed_at, source_event_id)
            VALUES ((SELECT current_setting('tally.org_id', true)), \(order.orderID), \(order.total.amountMinor), \(order.total.currency.rawValue),
                    \(order.paymentRef), \(order.placedAt), \(order.sourceEventID))
            ON CONFLICT (org_id, order_id) DO NOTHING
            """, logger: logger)
    }
}

/// Reads for the admin routes: each in its own tenant transaction.
struct ExpectedOrderQueries: Sendable {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger

    func order(org: TenantID, orderID: String) async throws -> ExpectedOrder? {
        try await client.withTenantTransaction(org, logger: logger) { connection in
            try await PostgresExpectedOrderStore(schema: schema, connection: connection, logger: logger).order(orderID)
        }
    }
}

/// A stored order whose currency this build cannot read.
struct UnreadableOrderRow: Error, CustomStringConvertible {
    let orderID: String
    var description: String { "expected order \(orderID) holds a currency this build does not know" }
}
