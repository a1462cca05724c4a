import Contracts
import Foundation

/// Where an invoice stands. Derived from its amounts and dates, never set by hand:
/// `issued` → `partial` (some paid, not yet due) / `paid` (payments cover the total) /
/// `overdue` (the due date passed, not covered); `void` is final and only reached with nothing paid.
enum InvoiceStatus: String, Codable, Sendable, CaseIterable {
    case issued, partial, paid, overdue, void

    /// The status that `total`, the settled payments and the due date give at `now`.
    static func derived(totalMinor: Int64, paidMinor: Int64, dueAt: Date, now: Date, voided: Bool) -> InvoiceStatus {
        if voided { return .void }
        if paidMinor >= totalMinor { return .paid }
        if now > dueAt { return .overdue }
        return paidMinor > 0 ? .partial : .issued
    }
}

/// What an invoice was issued for: an order of the product's backend, or one captured payment.
enum InvoiceSource: Hashable, Sendable {
    case order(orderID: String, paymentRef: String?)
    case payment(PaymentKey)

    var kind: String {
        switch self {
        case .order: "order"
        case .payment: "payment"
        }
    }
}

/// An invoice Tally numbered and issued. The number, lines and tax snapshot are written once;
/// only the settled amount, the credited amount and the status move afterwards.
struct Invoice: Hashable, Sendable {
    var id: String
    var number: String
    var source: InvoiceSource
    var customerRef: String?
    /// The customer's provider (the org's own backend for orders, the payment's provider otherwise).
    var customerProvider: WebhookProvider
    var currency: CurrencyCode
    var lines: [InvoiceLine]
    var snapshot: TaxSnapshot
    var issuedAt: Date
    var dueAt: Date
    var status: InvoiceStatus
    /// Payments applied to it (gross), from its settlement transactions.
    var paidMinor: Int64
    /// The total of its credit notes.
    var creditedMinor: Int64
    var voidReason: String?

    /// What is still to be paid.
    var outstandingMinor: Int64 { status == .void ? 0 : max(0, snapshot.totalMinor - paidMinor) }
    /// What credit notes may still credit.
    var creditableMinor: Int64 { snapshot.totalMinor - creditedMinor }

    /// The ledger key of its issue (the receivable).
    var issueKey: String { "invoice:\(id):issue" }
}

/// Invoice numbers: `INV-YYYYMMDD-NNNN`, per org and UTC day, from 1 without gaps (the counter
/// row moves in the issuing transaction, so a rolled-back issue uses no number and a void keeps
/// its number). Credit notes take the invoice's number and `-CN`, `-CN2`, `-CN3`, ….
enum InvoiceNumbering {
    /// The UTC day an invoice issued at `date` is numbered under, as `YYYYMMDD`.
    static func day(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d%02d%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    static func number(day: String, sequence: Int) -> String {
        "INV-\(day)-" + String(format: "%04d", sequence)
    }

    /// The number of an invoice's `ordinal`-th credit note (1-based).
    static func creditNote(invoiceNumber: String, ordinal: Int) -> String {
        ordinal == 1 ? "\(invoiceNumber)-CN" : "\(invoiceNumber)-CN\(ordinal)"
    }
}

/// A credit note: part of an invoice given back after a refund, split into net and tax in the
/// invoice's own proportion.
struct CreditNote: Hashable, Sendable {
    var id: String
    var invoiceID: String
    var number: String
    var ordinal: Int
    /// The ledger transaction of the refund it credits (each refund is credited once).
    var refundTransactionID: Int64
    var netMinor: Int64
    var taxMinor: Int64
    var totalMinor: Int64
    var reason: String?
    var createdAt: Date
    var createdBy: String
}

/// A refund posted in the ledger against one of an invoice's payments.
struct InvoiceRefund: Hashable, Sendable {
    var transactionID: Int64
    var sequence: Int64
    var key: String
    var amountMinor: Int64
    var alreadyCredited: Bool
    /// The refunded payment (`provider:payment_id`), what it captured, and how much of it the
    /// invoice took (`invoice_payments.amount_minor`).
    var payment: String
    var capturedMinor: Int64
    var appliedMinor: Int64

    /// The part of this refund that gives back money the invoice was paid with. A payment's
    /// refunds return what it paid beyond the invoice (captured − applied) first, then what
    /// it paid on the invoice; so the refunds of one payment together credit at most what that
    /// payment applied, and a refund of an overpayment credits nothing.
    func creditableMinor(among refunds: [InvoiceRefund]) -> Int64 {
        let earlier = refunds.filter { $0.payment == payment && $0.sequence < sequence }.reduce(Int64(0)) { $0 + $1.amountMinor }
        let overpaid = max(0, capturedMinor - appliedMinor)
        let start = max(earlier, overpaid)
        let end = min(earlier + amountMinor, overpaid + appliedMinor)
        return max(0, end - start)
    }
}

/// Money applied to an invoice, once per source, with its settlement transaction.
struct InvoicePayment: Hashable, Sendable {
    /// Where the money came from.
    enum Source: Hashable, Sendable {
        /// A provider's captured payment.
        case payment(PaymentKey)
        /// Money a person recorded as received outside any provider (an installment marked
        /// paid); `reference` names what was paid (`plan:<id>:<number>`).
        case manual(reference: String)

        /// The `provider` of a manual receipt.
        static let manualProvider = "manual"

        /// The provider (`manual` for a manual receipt); stored as `invoice_payments.provider`.
        var provider: String {
            switch self {
            case .payment(let key): key.provider.rawValue
            case .manual: Self.manualProvider
            }
        }
        /// The provider's payment id, or the manual receipt's reference; stored as
        /// `invoice_payments.payment_id`.
        var reference: String {
            switch self {
            case .payment(let key): key.paymentID
            case .manual(let reference): reference
            }
        }
    }

    var source: Source
    var amountMinor: Int64
    var transactionID: Int64
    var settledAt: Date

    /// The provider's payment, when the money came through one.
    var payment: PaymentKey? {
        if case .payment(let key) = source { return key }
        return nil
    }
    var provider: String { source.provider }
    var reference: String { source.reference }
}

/// Why a credit note cannot be created.
enum CreditNoteRefusal: Error, Equatable, CustomStringConvertible {
    case invoiceVoid
    case noRefund
    case refundAlreadyCredited(key: String)
    case exceedsInvoice(amountMinor: Int64, creditableMinor: Int64)
    /// The refund gave back only what its payment paid beyond the invoice.
    case refundOfOverpayment(key: String)

    var description: String {
        switch self {
        case .refundOfOverpayment(let key): "the refund \(key) gives back only what its payment paid beyond the invoice, so it credits nothing"
        case .invoiceVoid: "a void invoice takes no credit notes"
        case .noRefund: "no refund of this invoice's payments is in the ledger without a credit note"
        case .refundAlreadyCredited(let key): "the refund \(key) already has a credit note"
        case .exceedsInvoice(let amount, let creditable):
            "a credit of \(amount) would exceed what the invoice has left to credit (\(creditable))"
        }
    }
}

/// Credit notes: decided from the refund's ledger amount, with the invoice locked.
enum CreditNoteRules {
    /// The credit note for `refund` (the latest uncredited one when nil) on `invoice`, whose
    /// `existing` credit notes are given. The last credit that reaches the total takes exactly
    /// the net and tax still uncredited, so a fully credited invoice is reversed to the unit.
    static func decide(
        invoice: Invoice, existing: [CreditNote], refunds: [InvoiceRefund], refundKey: String?, id: String, reason: String?, by actor: String, now: Date
    ) throws(CreditNoteRefusal) -> CreditNote {
        guard invoice.status != .void else { throw .invoiceVoid }
        let refund: InvoiceRefund
        if let refundKey {
            guard let named = refunds.first(where: { $0.key == refundKey }) else { throw .noRefund }
            guard !named.alreadyCredited else { throw .refundAlreadyCredited(key: refundKey) }
            refund = named
        } else {
            guard let latest = refunds.filter({ !$0.alreadyCredited }).max(by: { $0.sequence < $1.sequence }) else { throw .noRefund }
            refund = latest
        }
        let amount = refund.creditableMinor(among: refunds)
        guard amount > 0 else { throw .refundOfOverpayment(key: refund.key) }
        let creditable = invoice.creditableMinor
        guard amount <= creditable else { throw .exceedsInvoice(amountMinor: amount, creditableMinor: creditable) }
        // Cumulative: the tax credited so far plus this note's is the invoice's proportion of all
        // credited, rounded once, so rounding never drifts and the note reaching the total takes
        // exactly the tax left.
        let creditedTax = existing.reduce(Int64(0)) { $0 + $1.taxMinor }
        let tax =
            HalfEven.multiply(invoice.creditedMinor + amount, invoice.snapshot.taxMinor, dividedBy: invoice.snapshot.totalMinor) - creditedTax
        let ordinal = existing.count + 1
        return CreditNote(
            id: id, invoiceID: invoice.id, number: InvoiceNumbering.creditNote(invoiceNumber: invoice.number, ordinal: ordinal), ordinal: ordinal,
            refundTransactionID: refund.transactionID, netMinor: amount - tax, taxMinor: tax, totalMinor: amount, reason: reason,
            createdAt: now, createdBy: actor)
    }
}

/// What a reconcile of one invoice found and does: its stored status and paid amount against
/// what its settlement transactions in the ledger give.
struct InvoiceReconciliation: Hashable, Sendable {
    struct State: Hashable, Sendable, Codable {
        var status: InvoiceStatus
        var paidMinor: Int64
        var outstandingMinor: Int64
        var paymentCount: Int

        enum CodingKeys: String, CodingKey {
            case status, paidMinor = "paid_minor", outstandingMinor = "outstanding_minor", paymentCount = "payment_count"
        }
    }

    var before: State
    var after: State
    var changed: Bool { before != after }

    /// `invoice` as stored, and the settled amounts the ledger holds for it.
    static func decide(invoice: Invoice, storedPaymentCount: Int, settledMinor: [Int64], now: Date) -> InvoiceReconciliation {
        let paid = settledMinor.reduce(0, +)
        let status = InvoiceStatus.derived(
            totalMinor: invoice.snapshot.totalMinor, paidMinor: paid, dueAt: invoice.dueAt, now: now, voided: invoice.status == .void)
        let before = State(status: invoice.status, paidMinor: invoice.paidMinor, outstandingMinor: invoice.outstandingMinor, paymentCount: storedPaymentCount)
        let after = State(
            status: status, paidMinor: paid, outstandingMinor: status == .void ? 0 : max(0, invoice.snapshot.totalMinor - paid), paymentCount: settledMinor.count)
        return InvoiceReconciliation(before: before, after: after)
    }
}
