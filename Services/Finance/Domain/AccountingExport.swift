import Contracts
import Foundation

/// The files of the accounting export (the seed's "Accounting export v1" and "Data Exports"),
/// as rows of cells: what each column holds is decided here, the reading in `ExportStore`, the
/// streaming in `Exports/`.
enum ExportKind: String, Codable, Sendable, CaseIterable {
    /// One row per invoice and per credit note issued in the period, from the stored snapshots.
    case accounting
    /// One row per payment captured in the period.
    case payments
    /// One row per customer and currency invoiced in the period.
    case customers
}

/// A period of an export: from `from` (inclusive) to `to` (exclusive), whole UTC days.
struct ExportPeriod: Hashable, Sendable, Codable {
    var from: Date
    var to: Date

    /// `YYYY-MM-DD/YYYY-MM-DD`, the last day exclusive.
    var label: String { "\(Self.day(from))/\(Self.day(to))" }

    /// The calendar month before the one `now` is in (UTC).
    static func previousMonth(of now: Date) -> ExportPeriod {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let thisMonth = calendar.date(from: calendar.dateComponents([.year, .month], from: now))!
        return ExportPeriod(from: calendar.date(byAdding: .month, value: -1, to: thisMonth)!, to: thisMonth)
    }

    /// A UTC day `YYYY-MM-DD` as the instant it starts.
    static func parseDay(_ text: String) -> Date? {
        guard text.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}/) != nil else { return nil }
        let formatter = DateFormatter()
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        guard let date = formatter.date(from: text), day(date) == text else { return nil }
        return date
    }

    static func day(_ date: Date) -> String { String(RFC3339.string(date).prefix(10)) }
}

/// An invoice as the accounting export reads it.
struct InvoiceExportRow: Hashable, Sendable {
    var invoice: Invoice
    var orderID: String?
    var paymentCount: Int
    var lastPaymentAt: Date?
    var firstDescription: String?
    var lineCount: Int
}

/// A credit note as the accounting export reads it, with what it needs of its invoice.
struct CreditNoteExportRow: Hashable, Sendable {
    var note: CreditNote
    var invoiceNumber: String
    var customerRef: String?
    var currency: CurrencyCode
    var orderID: String?
    var invoiceSubtotalMinor: Int64
    var invoiceTaxableSubtotalMinor: Int64
}

/// A captured payment as `payments.csv` reads it.
struct PaymentExportRow: Hashable, Sendable {
    var payment: PaymentRecord
    var status: PaymentStatus
    var invoiceNumber: String?
}

/// A customer's invoicing in one currency, as `customers.csv` reads it.
struct CustomerExportRow: Hashable, Sendable {
    var customerRef: String
    var provider: WebhookProvider
    var currency: CurrencyCode
    var invoiceCount: Int
    var firstIssuedAt: Date
    var lastIssuedAt: Date
    var invoicedMinor: Int64
    var paidMinor: Int64
    var creditedMinor: Int64
    var outstandingMinor: Int64
}

enum AccountingExport {
    static func columns(_ kind: ExportKind) -> [String] {
        switch kind {
        case .accounting:
            [
                "record_type", "number", "invoice_number", "issued_at", "status", "customer_ref", "order_id", "currency", "subtotal_minor",
                "taxable_subtotal_minor", "tax_minor", "total_minor", "paid_minor", "outstanding_minor", "payment_count", "last_payment_at", "description",
            ]
        case .payments:
            [
                "provider", "payment_id", "captured_at", "status", "currency", "captured_minor", "fee_minor", "refunded_minor", "net_minor", "customer_ref",
                "order_ref", "invoice_number",
            ]
        case .customers:
            [
                "customer_ref", "provider", "currency", "invoice_count", "first_issued_at", "last_issued_at", "invoiced_minor", "paid_minor", "credited_minor",
                "outstanding_minor",
            ]
        }
    }

    static func cells(_ row: InvoiceExportRow) -> [CSVCell] {
        let invoice = row.invoice
        let description = row.firstDescription.map { row.lineCount > 1 ? "\($0) (+\(row.lineCount - 1) more)" : $0 }
        return [
            .text("invoice"), .text(invoice.number), .text(invoice.number), .time(invoice.issuedAt), .text(invoice.status.rawValue), .text(invoice.customerRef),
            .text(row.orderID), .text(invoice.currency.rawValue), .number(invoice.snapshot.subtotalMinor), .number(invoice.snapshot.taxableSubtotalMinor),
            .number(invoice.snapshot.taxMinor), .number(invoice.snapshot.totalMinor), .number(invoice.paidMinor), .number(invoice.outstandingMinor),
            .number(Int64(row.paymentCount)), .time(row.lastPaymentAt), .text(description),
        ]
    }

    /// A credit note's row: its own net, tax and total (positive; `record_type` says it is a
    /// credit), the taxable part in the invoice's proportion, nothing paid or outstanding.
    static func cells(_ row: CreditNoteExportRow) -> [CSVCell] {
        let note = row.note
        let taxable = row.invoiceSubtotalMinor > 0 ? HalfEven.multiply(note.netMinor, row.invoiceTaxableSubtotalMinor, dividedBy: row.invoiceSubtotalMinor) : 0
        return [
            .text("credit_note"), .text(note.number), .text(row.invoiceNumber), .time(note.createdAt), .text("credited"), .text(row.customerRef),
            .text(row.orderID), .text(row.currency.rawValue), .number(note.netMinor), .number(taxable), .number(note.taxMinor), .number(note.totalMinor),
            .number(0), .number(0), .number(0), .time(nil), .text(note.reason),
        ]
    }

    static func cells(_ row: PaymentExportRow) -> [CSVCell] {
        let payment = row.payment
        return [
            .text(payment.key.provider.rawValue), .text(payment.key.paymentID), .time(payment.capturedAt), .text(row.status.rawValue),
            .text(payment.currency?.rawValue), .number(payment.capturedMinor), .number(payment.feeMinor), .number(payment.refundedMinor),
            .number(payment.capturedMinor - payment.refundedMinor - payment.feeMinor), .text(payment.customerRef), .text(payment.orderRef),
            .text(row.invoiceNumber),
        ]
    }

    static func cells(_ row: CustomerExportRow) -> [CSVCell] {
        [
            .text(row.customerRef), .text(row.provider.rawValue), .text(row.currency.rawValue), .number(Int64(row.invoiceCount)), .time(row.firstIssuedAt),
            .time(row.lastIssuedAt), .number(row.invoicedMinor), .number(row.paidMinor), .number(row.creditedMinor), .number(row.outstandingMinor),
        ]
    }
}
