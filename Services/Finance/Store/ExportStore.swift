import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// A stored export (the monthly job's, kept for review).
struct StoredExport: Hashable, Sendable {
    var id: String
    var kind: ExportKind
    var period: ExportPeriod
    var rowCount: Int64
    var byteCount: Int64
    var sha256: String
    var createdAt: Date
    var createdBy: String
}

/// The export reads, a page at a time in a stable order, and the stored exports; on a
/// connection whose transaction set the org (a `REPEATABLE READ` one for an export, so every page
/// reads the same snapshot).
struct ExportStore: Sendable {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger

    private var s: String { schema.name }

    /// Invoices issued in the period with `statuses` (all when nil), after `(issued_at, id)`.
    func invoices(_ period: ExportPeriod, statuses: [String]?, after: (Date, String)?, limit: Int) async throws -> [InvoiceExportRow] {
        let store = InvoiceStore(schema: schema, connection: connection, logger: logger)
        let found = try await store.invoices(
            where: """
                i.issued_at >= $1 AND i.issued_at < $2 AND ($3::text IS NULL OR i.status = ANY(string_to_array($3, ',')))
                AND ($4::timestamptz IS NULL OR (i.issued_at, i.id) > ($4, $5))
                """,
            [.time(period.from), .time(period.to), .text(statuses?.joined(separator: ",")), .time(after?.0), .text(after?.1)], order: "i.issued_at, i.id",
            limit: limit)
        guard !found.isEmpty else { return [] }
        var extras: [String: (Int, Date?)] = [:]
        for try await (id, count, last) in try await connection.query(
            """
            SELECT p.invoice_id, count(*)::int, max(p.settled_at) FROM \(unescaped: s).invoice_payments p
            WHERE p.invoice_id = ANY(\(found.map(\.id))::text[]) GROUP BY p.invoice_id
            """, logger: logger
        ).decode((String, Int, Date?).self) { extras[id] = (count, last) }
        return found.map { invoice in
            var orderID: String?
            if case .order(let id, _) = invoice.source { orderID = id }
            return InvoiceExportRow(
                invoice: invoice, orderID: orderID, paymentCount: extras[invoice.id]?.0 ?? 0, lastPaymentAt: extras[invoice.id]?.1,
                firstDescription: invoice.lines.first?.description, lineCount: invoice.lines.count)
        }
    }

    /// Credit notes created in the period, after `(created_at, id)`.
    func creditNotes(_ period: ExportPeriod, after: (Date, String)?, limit: Int) async throws -> [CreditNoteExportRow] {
        var rows: [CreditNoteExportRow] = []
        for try await row in try await connection.query(
            """
            SELECT c.id, c.invoice_id, c.number, c.ordinal, c.refund_transaction_id, c.net_minor, c.tax_minor, c.total_minor, c.reason, c.created_at,
                   c.created_by, i.number, i.customer_ref, i.currency, i.order_id, i.subtotal_minor, i.taxable_subtotal_minor
            FROM \(unescaped: s).credit_notes c JOIN \(unescaped: s).invoices i ON i.org_id = c.org_id AND i.id = c.invoice_id
            WHERE c.created_at >= \(period.from) AND c.created_at < \(period.to)
              AND (\(after?.0)::timestamptz IS NULL OR (c.created_at, c.id) > (\(after?.0), \(after?.1)))
            ORDER BY c.created_at, c.id LIMIT \(limit)
            """, logger: logger
        ) {
            let cells = row.makeRandomAccess()
            func cell<T: PostgresDecodable>(_ index: Int, _: T.Type) throws -> T { try cells[index].decode(T.self, context: .default) }
            guard let currency = CurrencyCode(rawValue: try cell(13, String.self)) else { continue }
            let note = CreditNote(
                id: try cell(0, String.self), invoiceID: try cell(1, String.self), number: try cell(2, String.self), ordinal: try cell(3, Int.self),
                refundTransactionID: try cell(4, Int64.self), netMinor: try cell(5, Int64.self), taxMinor: try cell(6, Int64.self), totalMinor: try cell(7, Int64.self),
                reason: try cell(8, String?.self), createdAt: try cell(9, Date.self), createdBy: try cell(10, String.self))
            rows.append(
                CreditNoteExportRow(
                    note: note, invoiceNumber: try cell(11, String.self), customerRef: try cell(12, String?.self), currency: currency,
                    orderID: try cell(14, String?.self), invoiceSubtotalMinor: try cell(15, Int64.self), invoiceTaxableSubtotalMinor: try cell(16, Int64.self)))
        }
        return rows
    }

    /// Payments captured in the period, after `(captured_at, provider, payment_id)`.
    func payments(_ period: ExportPeriod, after: (Date, String, String)?, limit: Int) async throws -> [PaymentExportRow] {
        var rows: [PaymentExportRow] = []
        for try await row in try await connection.query(
            """
            SELECT p.provider, p.payment_id, p.currency, p.captured_at, p.captured_minor, p.fee_minor, p.refunded_minor, p.customer_ref, p.order_ref,
                   p.status, (SELECT i.number FROM \(unescaped: s).invoice_payments ip JOIN \(unescaped: s).invoices i ON i.org_id = ip.org_id AND i.id = ip.invoice_id
                              WHERE ip.provider = p.provider AND ip.payment_id = p.payment_id ORDER BY i.number LIMIT 1)
            FROM \(unescaped: s).payments p
            WHERE p.captured_at >= \(period.from) AND p.captured_at < \(period.to)
              AND (\(after?.0)::timestamptz IS NULL OR (p.captured_at, p.provider, p.payment_id) > (\(after?.0), \(after?.1), \(after?.2)))
            ORDER BY p.captured_at, p.provider, p.payment_id LIMIT \(limit)
            """, logger: logger
        ) {
            let cells = row.makeRandomAccess()
            func cell<T: PostgresDecodable>(_ index: Int, _: T.Type) throws -> T { try cells[index].decode(T.self, context: .default) }
            guard let provider = WebhookProvider(rawValue: try cell(0, String.self)), let status = PaymentStatus(rawValue: try cell(9, String.self)) else { continue }
            var record = PaymentRecord(key: PaymentKey(provider: provider, paymentID: try cell(1, String.self)))
            record.currency = try cell(2, String?.self).flatMap(CurrencyCode.init(rawValue:))
            record.capturedAt = try cell(3, Date?.self)
            record.capturedMinor = try cell(4, Int64.self)
            record.feeMinor = try cell(5, Int64.self)
            record.refundedMinor = try cell(6, Int64.self)
            record.customerRef = try cell(7, String?.self)
            record.orderRef = try cell(8, String?.self)
            rows.append(PaymentExportRow(payment: record, status: status, invoiceNumber: try cell(10, String?.self)))
        }
        return rows
    }

    /// Per customer and currency, the invoices issued in the period (void ones left out), after
    /// `(customer_ref, currency)`.
    func customers(_ period: ExportPeriod, after: (String, String)?, limit: Int) async throws -> [CustomerExportRow] {
        var rows: [CustomerExportRow] = []
        for try await row in try await connection.query(
            """
            SELECT customer_ref, min(customer_provider), currency, count(*)::int, min(issued_at), max(issued_at), sum(total_minor)::bigint,
                   sum(paid_minor)::bigint, sum(credited_minor)::bigint, sum(greatest(total_minor - paid_minor, 0))::bigint
            FROM \(unescaped: s).invoices
            WHERE issued_at >= \(period.from) AND issued_at < \(period.to) AND status <> 'void' AND customer_ref IS NOT NULL
              AND (\(after?.0)::text IS NULL OR (customer_ref, currency) > (\(after?.0), \(after?.1)))
            GROUP BY customer_ref, currency ORDER BY customer_ref, currency LIMIT \(limit)
            """, logger: logger
        ) {
            let cells = row.makeRandomAccess()
            func cell<T: PostgresDecodable>(_ index: Int, _: T.Type) throws -> T { try cells[index].decode(T.self, context: .default) }
            guard let provider = WebhookProvider(rawValue: try cell(1, String.self)), let currency = CurrencyCode(rawValue: try cell(2, String.self)) else { continue }
            rows.append(
                CustomerExportRow(
                    customerRef: try cell(0, String.self), provider: provider, currency: currency, invoiceCount: try cell(3, Int.self),
                    firstIssuedAt: try cell(4, Date.self), lastIssuedAt: try cell(5, Date.self), invoicedMinor: try cell(6, Int64.self),
                    paidMinor: try cell(7, Int64.self), creditedMinor: try cell(8, Int64.self), outstandingMinor: try cell(9, Int64.self)))
        }
        return rows
    }

    // MARK: Stored exports

    /// Starts a stored export; false when one of this kind and period exists (another run made it).
    func begin(id: String, kind: ExportKind, period: ExportPeriod, by actor: String, at time: Date) async throws -> Bool {
        var inserted = false
        for try await _ in try await connection.query(
            """
            INSERT INTO \(unescaped: s).accounting_exports (org_id, id, kind, period_from, period_to, created_at, created_by)
            VALUES (current_setting('tally.org_id', true), \(id), \(kind.rawValue), \(period.from), \(period.to), \(time), \(actor))
            ON CONFLICT (org_id, kind, period_from, period_to) DO NOTHING RETURNING 1
            """, logger: logger
        ) { inserted = true }
        return inserted
    }

    func append(exportID: String, sequence: Int, bytes: [UInt8]) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).accounting_export_chunks (org_id, export_id, sequence, bytes)
            VALUES (current_setting('tally.org_id', true), \(exportID), \(sequence), \(ByteBuffer(bytes: bytes)))
            """, logger: logger)
    }

    func complete(exportID: String, rows: Int64, bytes: Int64, sha256: String) async throws {
        try await connection.query(
            """
            UPDATE \(unescaped: s).accounting_exports SET row_count = \(rows), byte_count = \(bytes), sha256 = \(sha256)
            WHERE org_id = current_setting('tally.org_id', true) AND id = \(exportID)
            """, logger: logger)
    }

    func stored(after: String?, limit: Int) async throws -> [StoredExport] {
        try await storedExports(filter: "(\(after == nil ? "true" : "e.id < $1"))", after.map { [.text($0)] } ?? [], limit: limit)
    }

    func stored(id: String) async throws -> StoredExport? {
        try await storedExports(filter: "e.id = $1", [.text(id)], limit: 1).first
    }

    private func storedExports(filter: String, _ values: [Bind], limit: Int) async throws -> [StoredExport] {
        let sql = """
            SELECT e.id, e.kind, e.period_from, e.period_to, e.row_count, e.byte_count, e.sha256, e.created_at, e.created_by
            FROM \(s).accounting_exports e WHERE e.sha256 IS NOT NULL AND \(filter) ORDER BY e.id DESC LIMIT \(limit)
            """
        var found: [StoredExport] = []
        for try await row in try await connection.query(try FilteredQuery.make(sql, values), logger: logger) {
            let cells = row.makeRandomAccess()
            func cell<T: PostgresDecodable>(_ index: Int, _: T.Type) throws -> T { try cells[index].decode(T.self, context: .default) }
            guard let kind = ExportKind(rawValue: try cell(1, String.self)) else { continue }
            found.append(
                StoredExport(
                    id: try cell(0, String.self), kind: kind, period: ExportPeriod(from: try cell(2, Date.self), to: try cell(3, Date.self)),
                    rowCount: try cell(4, Int64.self), byteCount: try cell(5, Int64.self), sha256: try cell(6, String.self), createdAt: try cell(7, Date.self),
                    createdBy: try cell(8, String.self)))
        }
        return found
    }

    /// The stored file's chunks after `sequence`, a few at a time.
    func chunks(exportID: String, after sequence: Int, limit: Int) async throws -> [(sequence: Int, bytes: ByteBuffer)] {
        var found: [(sequence: Int, bytes: ByteBuffer)] = []
        for try await (number, bytes) in try await connection.query(
            """
            SELECT sequence, bytes FROM \(unescaped: s).accounting_export_chunks
            WHERE export_id = \(exportID) AND sequence > \(sequence) ORDER BY sequence LIMIT \(limit)
            """, logger: logger
        ).decode((Int, ByteBuffer).self) { found.append((number, bytes)) }
        return found
    }

    /// Orgs with invoices in the period or a ledger at all (operator scope, for the job; payments
    /// are not readable in that scope, and every org with a capture has a ledger).
    static func orgs(in period: ExportPeriod, client: PostgresClient, schema: ServiceSchema, logger: Logger) async throws -> [TenantID] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
            var orgs: [TenantID] = []
            for try await org in try await connection.query(
                """
                SELECT org_id FROM \(unescaped: schema.name).invoices WHERE issued_at >= \(period.from) AND issued_at < \(period.to)
                UNION SELECT org_id FROM \(unescaped: schema.name).ledger_heads
                ORDER BY 1
                """, logger: logger
            ).decode(String.self) {
                if let tenant = TenantID(rawValue: org) { orgs.append(tenant) }
            }
            return orgs
        }
    }
}
