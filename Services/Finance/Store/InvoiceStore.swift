import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// The org's invoicing settings; an org that never set them issues at 0 % and 14 days.
struct InvoiceSettings: Hashable, Sendable, Codable {
    var taxRateBps: Int = 0
    var paymentTermsDays: Int = 14

    enum CodingKeys: String, CodingKey { case taxRateBps = "tax_rate_bps", paymentTermsDays = "payment_terms_days" }
}

/// A captured payment that belongs to an invoice (by order, payment reference or the payment itself).
struct CapturedPayment: Hashable, Sendable {
    var key: PaymentKey
    var currency: CurrencyCode
    var capturedMinor: Int64
    var capturedAt: Date
}

/// A provider's invoice as recorded.
struct ProviderInvoiceRecord: Hashable, Sendable {
    var provider: WebhookProvider
    var invoiceID: String
    var number: String?
    var status: String
    var subscriptionRef: String?
    var customerRef: String?
    var amount: Money
    var paymentRef: String?
    var attemptCount: Int?
    var occurredAt: Date
}

/// One row of the invoice mismatch list: an invoice whose stored status or paid amount
/// disagrees with its settlement transactions.
struct InvoiceMismatch: Hashable, Sendable {
    var invoice: Invoice
    var ledgerPaidMinor: Int64
    var ledgerPaymentCount: Int
    var lastPaymentAt: Date?
    var expectedStatus: InvoiceStatus
}

/// The invoice tables' SQL, on a connection whose transaction set the org (`setTenant`).
struct InvoiceStore: Sendable {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger

    private var s: String { schema.name }

    // MARK: Settings and numbers

    func settings() async throws -> InvoiceSettings {
        for try await (rate, days) in try await connection.query(
            "SELECT tax_rate_bps, payment_terms_days FROM \(unescaped: s).invoice_settings", logger: logger
        ).decode((Int, Int).self) { return InvoiceSettings(taxRateBps: rate, paymentTermsDays: days) }
        return InvoiceSettings()
    }

    func save(_ settings: InvoiceSettings, by actor: String, at time: Date) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).invoice_settings (org_id, tax_rate_bps, payment_terms_days, updated_at, updated_by)
            VALUES (current_setting('tally.org_id', true), \(settings.taxRateBps), \(settings.paymentTermsDays), \(time), \(actor))
            ON CONFLICT (org_id) DO UPDATE SET tax_rate_bps = EXCLUDED.tax_rate_bps, payment_terms_days = EXCLUDED.payment_terms_days,
                updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
            """, logger: logger)
    }

    /// The next number of `day`, taken in this transaction: concurrent issues wait on the
    /// counter row, and a rollback gives the number back.
    func nextNumber(day: String) async throws -> Int {
        for try await number in try await connection.query(
            """
            INSERT INTO \(unescaped: s).invoice_number_days (org_id, day, last_number) VALUES (current_setting('tally.org_id', true), \(day), 1)
            ON CONFLICT (org_id, day) DO UPDATE SET last_number = invoice_number_days.last_number + 1
            RETURNING last_number
            """, logger: logger
        ).decode(Int.self) { return number }
        throw InvoiceStoreError("the invoice number counter returned no row")
    }

    /// Serializes the invoice work of one order or payment reference for the rest of the
    /// transaction, so an order and its capture arriving together never miss each other.
    func lockReference(_ reference: String) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(current_setting('tally.org_id', true) || ':invoice:' || \(reference), 0))", logger: logger)
    }

    // MARK: Invoices

    private static let columns = """
        i.id, i.number, i.source, i.order_id, i.payment_ref, i.payment_provider, i.payment_id, i.customer_provider, i.customer_ref, i.currency,
        i.subtotal_minor, i.taxable_subtotal_minor, i.tax_minor, i.total_minor, i.tax_rate_basis_bps, i.issued_at, i.due_at, i.status,
        i.paid_minor, i.credited_minor, i.void_reason,
        (SELECT json_agg(json_build_object('sku', l.sku, 'description', l.description, 'quantity', l.quantity, 'unit_price_minor', l.unit_price_minor,
            'net_minor', l.net_minor, 'tax_rate_bps', l.tax_rate_bps, 'tax_minor', l.tax_minor, 'total_minor', l.total_minor) ORDER BY l.line)::text
         FROM invoice_lines l WHERE l.org_id = i.org_id AND l.invoice_id = i.id)
        """

    func invoices(where filter: String, _ values: [Bind], order: String = "i.issued_at, i.id", limit: Int? = nil, lock: Bool = false) async throws -> [Invoice] {
        let sql = """
            SELECT \(Self.columns.replacingOccurrences(of: "FROM invoice_lines", with: "FROM \(s).invoice_lines"))
            FROM \(s).invoices i WHERE \(filter) ORDER BY \(order) \(limit.map { "LIMIT \($0)" } ?? "") \(lock ? "FOR UPDATE OF i" : "")
            """
        var found: [Invoice] = []
        for try await row in try await connection.query(try FilteredQuery.make(sql, values), logger: logger) {
            found.append(try Self.invoice(row))
        }
        return found
    }

    func invoice(id: String, lock: Bool = false) async throws -> Invoice? {
        try await invoices(where: "i.id = $1", [.text(id)], lock: lock).first
    }

    func invoice(orderID: String, lock: Bool = false) async throws -> Invoice? {
        try await invoices(where: "i.source = 'order' AND i.order_id = $1", [.text(orderID)], lock: lock).first
    }

    func invoice(payment: PaymentKey, lock: Bool = false) async throws -> Invoice? {
        try await invoices(
            where: "i.source = 'payment' AND i.payment_provider = $1 AND i.payment_id = $2", [.text(payment.provider.rawValue), .text(payment.paymentID)], lock: lock
        ).first
    }

    /// Invoices a captured payment may settle: the order it names, or an order that named it.
    func invoices(forPayment payment: PaymentKey, orderRef: String?, lock: Bool) async throws -> [Invoice] {
        try await invoices(
            where: "i.source = 'order' AND (i.order_id = $1 OR i.payment_ref = $2)", [.text(orderRef), .text(payment.paymentID)], lock: lock)
    }

    func insert(_ invoice: Invoice, issueTransactionID: Int64, at time: Date) async throws {
        var orderID: String?
        var paymentRef: String?
        var payment: PaymentKey?
        switch invoice.source {
        case .order(let id, let ref):
            orderID = id
            paymentRef = ref
        case .payment(let key):
            payment = key
            paymentRef = key.paymentID
        }
        let snapshot = invoice.snapshot
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).invoices (org_id, id, number, source, order_id, payment_ref, payment_provider, payment_id, customer_provider, customer_ref,
                currency, subtotal_minor, taxable_subtotal_minor, tax_minor, total_minor, tax_rate_basis_bps, issued_at, due_at, status, paid_minor,
                credited_minor, issue_transaction_id, updated_at)
            VALUES (current_setting('tally.org_id', true), \(invoice.id), \(invoice.number), \(invoice.source.kind), \(orderID), \(paymentRef),
                \(payment?.provider.rawValue), \(payment?.paymentID), \(invoice.customerProvider.rawValue), \(invoice.customerRef), \(invoice.currency.rawValue),
                \(snapshot.subtotalMinor), \(snapshot.taxableSubtotalMinor), \(snapshot.taxMinor), \(snapshot.totalMinor), \(snapshot.taxRateBasisBps),
                \(invoice.issuedAt), \(invoice.dueAt), \(invoice.status.rawValue), \(invoice.paidMinor), \(invoice.creditedMinor), \(issueTransactionID), \(time))
            """, logger: logger)
        let lines = invoice.lines
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).invoice_lines (org_id, invoice_id, line, sku, description, quantity, unit_price_minor, net_minor, tax_rate_bps, tax_minor, total_minor)
            SELECT current_setting('tally.org_id', true), \(invoice.id), n, sku, description, quantity, unit, net, rate, tax, total
            FROM unnest(\(lines.indices.map { Int32($0 + 1) })::int[], \(lines.map(\.sku))::text[], \(lines.map(\.description))::text[],
                        \(lines.map { Int32($0.quantity) })::int[], \(lines.map(\.unitPriceMinor))::bigint[], \(lines.map(\.netMinor))::bigint[],
                        \(lines.map { Int32($0.taxRateBps) })::int[], \(lines.map(\.taxMinor))::bigint[], \(lines.map(\.totalMinor))::bigint[])
                AS l(n, sku, description, quantity, unit, net, rate, tax, total)
            """, logger: logger)
    }

    /// Writes what may move on an issued invoice: status, paid and credited amounts, void reason.
    func update(_ invoice: Invoice, at time: Date) async throws {
        try await connection.query(
            """
            UPDATE \(unescaped: s).invoices SET status = \(invoice.status.rawValue), paid_minor = \(invoice.paidMinor), credited_minor = \(invoice.creditedMinor),
                void_reason = \(invoice.voidReason), updated_at = \(time)
            WHERE org_id = current_setting('tally.org_id', true) AND id = \(invoice.id)
            """, logger: logger)
    }

    // MARK: Payments

    /// A payment that names an installment of the invoice's plans ($3: the invoice id).
    private var paysAnInstallment: String {
        """
        EXISTS (SELECT 1 FROM \(s).installments n JOIN \(s).payment_plans pp ON pp.org_id = n.org_id AND pp.id = n.plan_id
                WHERE pp.invoice_id = $3 AND n.payment_id = p.payment_id AND n.payment_provider = p.provider)
        """
    }

    /// Captured payments of an invoice's order (by the order id they carry or the payment the
    /// order named), or the invoice's own payment, and the payments of its plans' installments;
    /// never one already applied to another invoice (one payment settles one invoice).
    func capturedPayments(for invoice: Invoice) async throws -> [CapturedPayment] {
        let filter: String
        let values: [Bind]
        switch invoice.source {
        case .order(let orderID, let paymentRef):
            filter = "(p.order_ref = $1 OR p.payment_id = $2 OR \(paysAnInstallment))"
            values = [.text(orderID), .text(paymentRef), .text(invoice.id)]
        case .payment(let key):
            filter = "((p.provider = $1 AND p.payment_id = $2) OR \(paysAnInstallment))"
            values = [.text(key.provider.rawValue), .text(key.paymentID), .text(invoice.id)]
        }
        let sql = """
            SELECT p.provider, p.payment_id, p.currency, p.captured_minor, p.captured_at FROM \(s).payments p
            WHERE \(filter) AND p.captured_at IS NOT NULL AND p.captured_minor > 0
              AND NOT EXISTS (SELECT 1 FROM \(s).invoice_payments ip WHERE ip.provider = p.provider AND ip.payment_id = p.payment_id AND ip.invoice_id <> $3)
            ORDER BY p.captured_at, p.provider, p.payment_id
            """
        var found: [CapturedPayment] = []
        for try await (provider, id, currency, minor, at) in try await connection.query(try FilteredQuery.make(sql, values), logger: logger).decode(
            (String, String, String?, Int64, Date).self)
        {
            guard let provider = WebhookProvider(rawValue: provider), let currency = currency.flatMap(CurrencyCode.init(rawValue:)) else { continue }
            found.append(CapturedPayment(key: PaymentKey(provider: provider, paymentID: id), currency: currency, capturedMinor: minor, capturedAt: at))
        }
        return found
    }

    func payments(of invoiceID: String) async throws -> [InvoicePayment] {
        var found: [InvoicePayment] = []
        for try await (provider, id, amount, transaction, at) in try await connection.query(
            """
            SELECT provider, payment_id, amount_minor, transaction_id, settled_at FROM \(unescaped: s).invoice_payments
            WHERE invoice_id = \(invoiceID) ORDER BY settled_at, provider, payment_id
            """, logger: logger
        ).decode((String, String, Int64, Int64, Date).self) {
            let source: InvoicePayment.Source
            if provider == InvoicePayment.Source.manualProvider {
                source = .manual(reference: id)
            } else if let provider = WebhookProvider(rawValue: provider) {
                source = .payment(PaymentKey(provider: provider, paymentID: id))
            } else {
                continue
            }
            found.append(InvoicePayment(source: source, amountMinor: amount, transactionID: transaction, settledAt: at))
        }
        return found
    }

    func insert(_ payment: InvoicePayment, invoiceID: String) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).invoice_payments (org_id, invoice_id, provider, payment_id, amount_minor, transaction_id, settled_at)
            VALUES (current_setting('tally.org_id', true), \(invoiceID), \(payment.provider), \(payment.reference), \(payment.amountMinor),
                    \(payment.transactionID), \(payment.settledAt))
            """, logger: logger)
    }

    /// The settlement the ledger holds under `key`: its transaction id and what it credited the
    /// receivable with.
    func settlement(key: String) async throws -> (transactionID: Int64, amountMinor: Int64)? {
        for try await (id, amount) in try await connection.query(
            """
            SELECT t.id, -e.amount_minor FROM \(unescaped: s).ledger_transactions t
            JOIN \(unescaped: s).ledger_entries e ON e.transaction_id = t.id AND e.account = \(LedgerAccount.receivables.code)
            WHERE t.key = \(key)
            """, logger: logger
        ).decode((Int64, Int64).self) { return (id, amount) }
        return nil
    }

    /// The provider invoice a payment paid, if a provider recorded one.
    func providerInvoice(paidBy payment: PaymentKey) async throws -> String? {
        for try await (id, number) in try await connection.query(
            """
            SELECT invoice_id, number FROM \(unescaped: s).provider_invoices WHERE provider = \(payment.provider.rawValue) AND payment_ref = \(payment.paymentID)
            ORDER BY invoice_id LIMIT 1
            """, logger: logger
        ).decode((String, String?).self) { return number ?? id }
        return nil
    }

    /// The amount of each settlement transaction the ledger holds for the invoice (what its
    /// receivable was credited with), whatever `invoice_payments` says.
    func settledInLedger(invoiceID: String) async throws -> [(amountMinor: Int64, postedAt: Date)] {
        var found: [(amountMinor: Int64, postedAt: Date)] = []
        let prefix = "invoice:\(invoiceID):settle:"
        for try await (amount, at) in try await connection.query(
            """
            SELECT -e.amount_minor, t.posted_at FROM \(unescaped: s).ledger_transactions t
            JOIN \(unescaped: s).ledger_entries e ON e.transaction_id = t.id AND e.account = \(LedgerAccount.receivables.code)
            WHERE t.kind = 'invoice_settled' AND left(t.key, length(\(prefix))) = \(prefix)
            ORDER BY t.sequence
            """, logger: logger
        ).decode((Int64, Date).self) { found.append((amount, at)) }
        return found
    }

    /// Refunds the ledger posted against the invoice's settled payments, oldest first, each
    /// with whether a credit note already credits it.
    func refunds(of invoiceID: String) async throws -> [InvoiceRefund] {
        var found: [InvoiceRefund] = []
        for try await (id, sequence, key, amount, credited, payment, captured, applied) in try await connection.query(
            """
            SELECT t.id, t.sequence, t.key, e.amount_minor, EXISTS (SELECT 1 FROM \(unescaped: s).credit_notes c WHERE c.refund_transaction_id = t.id),
                   p.provider || ':' || p.payment_id, coalesce(m.captured_minor, p.amount_minor), p.amount_minor
            FROM \(unescaped: s).invoice_payments p
            JOIN \(unescaped: s).ledger_transactions t ON t.kind = 'refund' AND t.payment_provider = p.provider AND t.payment_id = p.payment_id
            JOIN \(unescaped: s).ledger_entries e ON e.transaction_id = t.id AND e.account = \(LedgerAccount.refunds.code)
            LEFT JOIN \(unescaped: s).payments m ON m.org_id = p.org_id AND m.provider = p.provider AND m.payment_id = p.payment_id
            WHERE p.invoice_id = \(invoiceID)
            ORDER BY t.sequence
            """, logger: logger
        ).decode((Int64, Int64, String, Int64, Bool, String, Int64, Int64).self) {
            found.append(
                InvoiceRefund(
                    transactionID: id, sequence: sequence, key: key, amountMinor: amount, alreadyCredited: credited, payment: payment, capturedMinor: captured,
                    appliedMinor: applied))
        }
        return found
    }

    // MARK: Credit notes

    func creditNotes(of invoiceID: String) async throws -> [CreditNote] {
        var found: [CreditNote] = []
        for try await row in try await connection.query(
            """
            SELECT id, number, ordinal, refund_transaction_id, net_minor, tax_minor, total_minor, reason, created_at, created_by
            FROM \(unescaped: s).credit_notes WHERE invoice_id = \(invoiceID) ORDER BY ordinal
            """, logger: logger
        ) {
            let cells = row.makeRandomAccess()
            func cell<T: PostgresDecodable>(_ index: Int, _: T.Type) throws -> T { try cells[index].decode(T.self, context: .default) }
            found.append(
                CreditNote(
                    id: try cell(0, String.self), invoiceID: invoiceID, number: try cell(1, String.self), ordinal: try cell(2, Int.self),
                    refundTransactionID: try cell(3, Int64.self), netMinor: try cell(4, Int64.self), taxMinor: try cell(5, Int64.self),
                    totalMinor: try cell(6, Int64.self), reason: try cell(7, String?.self), createdAt: try cell(8, Date.self), createdBy: try cell(9, String.self)))
        }
        return found
    }

    func insert(_ note: CreditNote, transactionID: Int64) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).credit_notes (org_id, id, invoice_id, number, ordinal, refund_transaction_id, net_minor, tax_minor, total_minor, reason,
                transaction_id, created_at, created_by)
            VALUES (current_setting('tally.org_id', true), \(note.id), \(note.invoiceID), \(note.number), \(note.ordinal), \(note.refundTransactionID),
                \(note.netMinor), \(note.taxMinor), \(note.totalMinor), \(note.reason), \(transactionID), \(note.createdAt), \(note.createdBy))
            """, logger: logger)
    }

    // MARK: Reconcile

    /// Invoices whose stored status or paid amount disagrees with their settlement transactions
    /// (all of them with `all`), by id, after the cursor `after`. At most 10 pages of 200 are
    /// read per call; `next` is where to go on (nil at the end), even when fewer rows were found.
    func reconcileRows(onlyMismatches: Bool, after: String?, limit: Int, now: Date) async throws -> (rows: [InvoiceMismatch], next: String?) {
        var rows: [InvoiceMismatch] = []
        var cursor = after
        for _ in 0..<10 {
            let page = try await invoices(where: "($1::text IS NULL OR i.id > $1)", [.text(cursor)], order: "i.id", limit: 200)
            for invoice in page {
                cursor = invoice.id
                let settled = try await settledInLedger(invoiceID: invoice.id)
                let paid = settled.reduce(0) { $0 + $1.amountMinor }
                let expected = InvoiceStatus.derived(
                    totalMinor: invoice.snapshot.totalMinor, paidMinor: paid, dueAt: invoice.dueAt, now: now, voided: invoice.status == .void)
                let mismatch = expected != invoice.status || paid != invoice.paidMinor
                guard mismatch || !onlyMismatches else { continue }
                rows.append(
                    InvoiceMismatch(
                        invoice: invoice, ledgerPaidMinor: paid, ledgerPaymentCount: settled.count, lastPaymentAt: settled.last?.postedAt, expectedStatus: expected))
                if rows.count == limit { return (rows, cursor) }
            }
            if page.count < 200 { return (rows, nil) }
        }
        return (rows, cursor)
    }

    // MARK: Provider invoices

    /// Records a provider invoice's latest fact; an older fact than the one kept changes nothing.
    func record(_ invoice: ProviderInvoiceRecord, at time: Date) async throws -> Bool {
        var changed = false
        for try await _ in try await connection.query(
            """
            INSERT INTO \(unescaped: s).provider_invoices (org_id, provider, invoice_id, number, status, subscription_ref, customer_ref, currency, amount_minor,
                payment_ref, attempt_count, occurred_at, updated_at)
            VALUES (current_setting('tally.org_id', true), \(invoice.provider.rawValue), \(invoice.invoiceID), \(invoice.number), \(invoice.status),
                \(invoice.subscriptionRef), \(invoice.customerRef), \(invoice.amount.currency.rawValue), \(invoice.amount.amountMinor), \(invoice.paymentRef),
                \(invoice.attemptCount), \(invoice.occurredAt), \(time))
            ON CONFLICT (org_id, provider, invoice_id) DO UPDATE SET
                number = COALESCE(EXCLUDED.number, provider_invoices.number), status = EXCLUDED.status,
                subscription_ref = COALESCE(EXCLUDED.subscription_ref, provider_invoices.subscription_ref),
                customer_ref = COALESCE(EXCLUDED.customer_ref, provider_invoices.customer_ref), currency = EXCLUDED.currency,
                amount_minor = EXCLUDED.amount_minor, payment_ref = COALESCE(EXCLUDED.payment_ref, provider_invoices.payment_ref),
                attempt_count = COALESCE(EXCLUDED.attempt_count, provider_invoices.attempt_count), occurred_at = EXCLUDED.occurred_at, updated_at = EXCLUDED.updated_at
            WHERE provider_invoices.occurred_at < EXCLUDED.occurred_at
               OR (provider_invoices.occurred_at = EXCLUDED.occurred_at AND provider_invoices.status <> 'paid' AND EXCLUDED.status = 'paid')
            RETURNING 1
            """, logger: logger
        ) { changed = true }
        return changed
    }

    func providerInvoices(after: String?, limit: Int) async throws -> [ProviderInvoiceRecord] {
        var found: [ProviderInvoiceRecord] = []
        for try await row in try await connection.query(
            """
            SELECT provider, invoice_id, number, status, subscription_ref, customer_ref, currency, amount_minor, payment_ref, attempt_count, occurred_at
            FROM \(unescaped: s).provider_invoices WHERE (\(after)::text IS NULL OR provider || ':' || invoice_id > \(after))
            ORDER BY provider || ':' || invoice_id LIMIT \(limit)
            """, logger: logger
        ) {
            let cells = row.makeRandomAccess()
            func cell<T: PostgresDecodable>(_ index: Int, _: T.Type) throws -> T { try cells[index].decode(T.self, context: .default) }
            guard let provider = WebhookProvider(rawValue: try cell(0, String.self)), let currency = CurrencyCode(rawValue: try cell(6, String.self)) else { continue }
            found.append(
                ProviderInvoiceRecord(
                    provider: provider, invoiceID: try cell(1, String.self), number: try cell(2, String?.self), status: try cell(3, String.self),
                    subscriptionRef: try cell(4, String?.self), customerRef: try cell(5, String?.self),
                    amount: Money(amountMinor: try cell(7, Int64.self), currency: currency), paymentRef: try cell(8, String?.self),
                    attemptCount: try cell(9, Int?.self), occurredAt: try cell(10, Date.self)))
        }
        return found
    }

    // MARK: Rows

    private static func invoice(_ row: PostgresRow) throws -> Invoice {
        let cells = row.makeRandomAccess()
        func cell<T: PostgresDecodable>(_ index: Int, _: T.Type) throws -> T { try cells[index].decode(T.self, context: .default) }
        let id = try cell(0, String.self)
        let source: InvoiceSource
        if try cell(2, String.self) == "order" {
            source = .order(orderID: try cell(3, String.self), paymentRef: try cell(4, String?.self))
        } else {
            guard let provider = WebhookProvider(rawValue: try cell(5, String.self)) else { throw InvoiceStoreError("invoice \(id) names an unknown provider") }
            source = .payment(PaymentKey(provider: provider, paymentID: try cell(6, String.self)))
        }
        guard let customerProvider = WebhookProvider(rawValue: try cell(7, String.self)), let currency = CurrencyCode(rawValue: try cell(9, String.self)),
            let status = InvoiceStatus(rawValue: try cell(17, String.self))
        else { throw InvoiceStoreError("invoice \(id) holds a value this version does not know") }
        let lines = try JSONDecoder().decode([InvoiceLine].self, from: Data((try cell(21, String?.self) ?? "[]").utf8))
        var snapshot = TaxSnapshot(lines: [])
        snapshot.subtotalMinor = try cell(10, Int64.self)
        snapshot.taxableSubtotalMinor = try cell(11, Int64.self)
        snapshot.taxMinor = try cell(12, Int64.self)
        snapshot.totalMinor = try cell(13, Int64.self)
        snapshot.taxRateBasisBps = try cell(14, Int.self)
        return Invoice(
            id: id, number: try cell(1, String.self), source: source, customerRef: try cell(8, String?.self), customerProvider: customerProvider, currency: currency,
            lines: lines, snapshot: snapshot, issuedAt: try cell(15, Date.self), dueAt: try cell(16, Date.self), status: status, paidMinor: try cell(18, Int64.self),
            creditedMinor: try cell(19, Int64.self), voidReason: try cell(20, String?.self))
    }
}

struct InvoiceStoreError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
