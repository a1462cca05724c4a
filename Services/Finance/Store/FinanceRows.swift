import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// A value bound to a `$n` placeholder of a filter.
enum Bind: Sendable {
    case text(String?)
    case integer(Int64?)
    case time(Date?)
}

/// A query whose filter the caller gives as SQL text with `$1…` placeholders and its values.
/// Only this folder's code builds such text, from constants; values always travel as binds.
enum FilteredQuery {
    static func make(_ sql: String, _ values: [Bind]) throws -> PostgresQuery {
        var bindings = PostgresBindings()
        for value in values {
            switch value {
            case .text(let text): try bindings.append(text)
            case .integer(let number): try bindings.append(number)
            case .time(let date): try bindings.append(date)
            }
        }
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }
}

/// Reads ledger transactions with their entries.
enum LedgerRows {
    static func transactions(
        where filter: String, _ values: [Bind], limit: Int? = nil, schema: ServiceSchema, connection: PostgresConnection, logger: Logger
    ) async throws -> [PostedTransaction] {
        let s = schema.name
        let sql = """
            SELECT t.id, t.sequence, t.key, t.kind, t.payment_provider, t.payment_id, t.reverses, r.key, t.cause_event_id, t.cause_event_type,
                   t.occurred_at, t.posted_at, t.content_sha256, t.chain_sha256,
                   (SELECT array_agg(e.account ORDER BY e.line) FROM \(s).ledger_entries e WHERE e.transaction_id = t.id),
                   (SELECT array_agg(e.currency ORDER BY e.line) FROM \(s).ledger_entries e WHERE e.transaction_id = t.id),
                   (SELECT array_agg(e.amount_minor ORDER BY e.line) FROM \(s).ledger_entries e WHERE e.transaction_id = t.id)
            FROM \(s).ledger_transactions t LEFT JOIN \(s).ledger_transactions r ON r.id = t.reverses
            WHERE \(filter)
            ORDER BY t.sequence
            \(limit.map { "LIMIT \($0)" } ?? "")
            """
        var transactions: [PostedTransaction] = []
        let rows = try await connection.query(try FilteredQuery.make(sql, values), logger: logger)
        for try await row in rows {
            let cells = row.makeRandomAccess()
            func cell<T: PostgresDecodable>(_ index: Int, _: T.Type) throws -> T { try cells[index].decode(T.self, context: .default) }
            let id = try cell(0, Int64.self)
            let sequence = try cell(1, Int64.self)
            let key = try cell(2, String.self)
            let kind = try cell(3, String.self)
            let provider = try cell(4, String?.self)
            let paymentID = try cell(5, String?.self)
            let reverses = try cell(6, Int64?.self)
            let reversesKey = try cell(7, String?.self)
            let causeID = try cell(8, String.self)
            let causeType = try cell(9, String.self)
            let occurredAt = try cell(10, Date.self)
            let postedAt = try cell(11, Date.self)
            let contentHash = try cell(12, String.self)
            let chainHash = try cell(13, String.self)
            let accounts = try cell(14, [String]?.self) ?? []
            let currencies = try cell(15, [String]?.self) ?? []
            let amounts = try cell(16, [Int64]?.self) ?? []
            guard let kind = TransactionKind(rawValue: kind), accounts.count == currencies.count, currencies.count == amounts.count else {
                throw UnreadableFinanceRow(table: "ledger_transactions", id: "\(id)")
            }
            var entries: [LedgerEntry] = []
            for index in accounts.indices {
                guard let currency = CurrencyCode(rawValue: currencies[index]) else { throw UnreadableFinanceRow(table: "ledger_entries", id: "\(id)") }
                entries.append(LedgerEntry(account: accounts[index], currency: currency, amountMinor: amounts[index]))
            }
            var payment: PaymentKey?
            if let provider, let paymentID {
                guard let known = WebhookProvider(rawValue: provider) else { throw UnreadableFinanceRow(table: "ledger_transactions", id: "\(id)") }
                payment = PaymentKey(provider: known, paymentID: paymentID)
            }
            let proposal = ProposedTransaction(
                key: key, kind: kind, payment: payment, reversesKey: reversesKey, causeEventID: causeID, causeEventType: causeType, occurredAt: occurredAt,
                entries: entries)
            transactions.append(
                PostedTransaction(
                    id: id, sequence: sequence, proposal: proposal, reverses: reverses, postedAt: postedAt, contentHash: contentHash, chainHash: chainHash))
        }
        return transactions
    }
}

/// Reads and writes payment records.
enum PaymentRows {
    static let columns = """
        provider, payment_id, currency, intended_minor, captured_at, captured_minor, fee_minor, refunded_minor, attempt_failed, disputes::text,
        customer_ref, order_ref, updated_at
        """

    static func select(
        where filter: String, _ values: [Bind], schema: ServiceSchema, connection: PostgresConnection, logger: Logger
    ) async throws -> [PaymentRecord] {
        try await selectWithTimes(where: filter, values, schema: schema, connection: connection, logger: logger).map(\.record)
    }

    static func selectWithTimes(
        where filter: String, _ values: [Bind], schema: ServiceSchema, connection: PostgresConnection, logger: Logger
    ) async throws -> [(record: PaymentRecord, updatedAt: Date)] {
        var records: [(record: PaymentRecord, updatedAt: Date)] = []
        let rows = try await connection.query(try FilteredQuery.make("SELECT \(columns) FROM \(schema.name).payments WHERE \(filter)", values), logger: logger)
        for try await (provider, paymentID, currency, intended, capturedAt, captured, fee, refunded, failed, disputes, customerRef, orderRef, updatedAt) in rows.decode(
            (String, String, String?, Int64?, Date?, Int64, Int64, Int64, Bool, String, String?, String?, Date).self)
        {
            guard let provider = WebhookProvider(rawValue: provider) else { throw UnreadableFinanceRow(table: "payments", id: paymentID) }
            var record = PaymentRecord(key: PaymentKey(provider: provider, paymentID: paymentID))
            if let currency {
                guard let code = CurrencyCode(rawValue: currency) else { throw UnreadableFinanceRow(table: "payments", id: paymentID) }
                record.currency = code
            }
            record.intendedMinor = intended
            record.capturedAt = capturedAt
            record.capturedMinor = captured
            record.feeMinor = fee
            record.refundedMinor = refunded
            record.attemptFailed = failed
            record.disputes = try JSONDecoder().decode([DisputeRecord].self, from: Data(disputes.utf8))
            record.customerRef = customerRef
            record.orderRef = orderRef
            records.append((record, updatedAt))
        }
        return records
    }
}

/// Reads and writes refund requests.
enum RefundRows {
    static func select(
        where filter: String, _ values: [Bind], schema: ServiceSchema, connection: PostgresConnection, logger: Logger
    ) async throws -> [RefundRequest] {
        let sql = """
            SELECT id, provider, payment_id, amount_minor, currency, reason, status, requested_by, decided_by, provider_refund_id, failure, created_at, updated_at
            FROM \(schema.name).refund_requests WHERE \(filter)
            """
        var requests: [RefundRequest] = []
        for try await (id, provider, paymentID, amount, currency, reason, status, requestedBy, decidedBy, providerRefundID, failure, createdAt, updatedAt)
            in try await connection.query(try FilteredQuery.make(sql, values), logger: logger).decode(
                (String, String, String, Int64, String, String, String, String, String?, String?, String?, Date, Date).self)
        {
            guard let provider = WebhookProvider(rawValue: provider), let currency = CurrencyCode(rawValue: currency), let status = RefundRequest.Status(rawValue: status)
            else { throw UnreadableFinanceRow(table: "refund_requests", id: id) }
            requests.append(
                RefundRequest(
                    id: id, payment: PaymentKey(provider: provider, paymentID: paymentID), amount: Money(amountMinor: amount, currency: currency), reason: reason,
                    status: status, requestedBy: requestedBy, decidedBy: decidedBy, providerRefundID: providerRefundID, failure: failure, createdAt: createdAt,
                    updatedAt: updatedAt))
        }
        return requests
    }

    static func upsert(_ request: RefundRequest, schema: ServiceSchema, connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).refund_requests
                (org_id, id, provider, payment_id, amount_minor, currency, reason, status, requested_by, decided_by, provider_refund_id, failure, created_at, updated_at)
            VALUES (current_setting('tally.org_id', true), \(request.id), \(request.payment.provider.rawValue), \(request.payment.paymentID),
                    \(request.amount.amountMinor), \(request.amount.currency.rawValue), \(request.reason), \(request.status.rawValue), \(request.requestedBy),
                    \(request.decidedBy), \(request.providerRefundID), \(request.failure), \(request.createdAt), \(request.updatedAt))
            ON CONFLICT (org_id, id) DO UPDATE SET
                status = EXCLUDED.status, decided_by = EXCLUDED.decided_by, provider_refund_id = EXCLUDED.provider_refund_id,
                failure = EXCLUDED.failure, updated_at = EXCLUDED.updated_at
            """, logger: logger)
    }
}
