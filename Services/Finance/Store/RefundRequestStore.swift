import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// The SQL of people's refund requests, on a connection inside the caller's tenant transaction.
struct RefundRequestStore: Sendable {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger

    /// The payment, locked: concurrent requests for one payment take turns here, so each sees
    /// the amounts the others hold.
    func lockedPayment(_ key: PaymentKey) async throws -> PaymentRecord? {
        try await PaymentRows.select(
            where: "provider = $1 AND payment_id = $2 FOR UPDATE", [.text(key.provider.rawValue), .text(key.paymentID)], schema: schema, connection: connection, logger: logger
        ).first
    }

    /// What the payment's requests still hold, and what the provider refunded without a request.
    func committedAmounts(_ key: PaymentKey) async throws -> (heldByRequests: Int64, unrequestedRefunded: Int64) {
        var result: (Int64, Int64) = (0, 0)
        for try await row in try await connection.query(
            """
            SELECT
              (SELECT coalesce(sum(amount_minor), 0)::bigint FROM \(unescaped: schema.name).refund_requests
               WHERE provider = \(key.provider.rawValue) AND payment_id = \(key.paymentID) AND status NOT IN ('rejected', 'failed')),
              (SELECT coalesce(sum(amount_minor), 0)::bigint FROM \(unescaped: schema.name).provider_refunds
               WHERE provider = \(key.provider.rawValue) AND payment_id = \(key.paymentID) AND refund_request_id IS NULL)
            """, logger: logger
        ).decode((Int64, Int64).self) { result = row }
        return result
    }

    func request(_ id: String, lock: Bool) async throws -> RefundRequest? {
        try await RefundRows.select(where: lock ? "id = $1 FOR UPDATE" : "id = $1", [.text(id)], schema: schema, connection: connection, logger: logger).first
    }

    func save(_ request: RefundRequest) async throws {
        try await RefundRows.upsert(request, schema: schema, connection: connection, logger: logger)
    }

    func list(status: RefundRequest.Status?, after: String?, limit: Int) async throws -> [RefundRequest] {
        try await RefundRows.select(
            where: "($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT \(limit)", [.text(status?.rawValue), .text(after)], schema: schema,
            connection: connection, logger: logger)
    }

    /// Requests that were approved but never reached the provider, or were recorded offline.
    func awaitingSubmission(limit: Int) async throws -> [RefundRequest] {
        try await RefundRows.select(
            where: "(status = 'offline' OR (status = 'approved' AND provider_refund_id IS NULL)) ORDER BY created_at, id LIMIT \(limit)", [], schema: schema,
            connection: connection, logger: logger)
    }
}
