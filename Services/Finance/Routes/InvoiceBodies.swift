import Contracts
import Foundation
import Hummingbird

// The JSON of the invoice routes (contracts/openapi/finance.yaml, tag `invoices`).

/// The payment an invoice without an order was issued for.
struct InvoicedPayment: Encodable, Sendable {
    var provider: String
    var paymentID: String
    enum CodingKeys: String, CodingKey { case provider, paymentID = "payment_id" }
}

struct InvoiceBody: Encodable, ResponseEncodable, Sendable {
    struct Payment: Encodable, Sendable {
        var provider: String
        var paymentID: String
        var amountMinor: Int64
        var transactionID: Int64
        var settledAt: String
        enum CodingKeys: String, CodingKey { case provider, paymentID = "payment_id", amountMinor = "amount_minor", transactionID = "transaction_id", settledAt = "settled_at" }
    }

    var id: String
    var number: String
    var source: String
    var orderID: String?
    var payment: InvoicedPayment?
    var paymentRef: String?
    var customerRef: String?
    var currency: String
    var status: String
    var issuedAt: String
    var dueAt: String
    var lines: [InvoiceLine]
    var snapshot: TaxSnapshot
    var paidMinor: Int64
    var creditedMinor: Int64
    var outstandingMinor: Int64
    var voidReason: String?
    var payments: [Payment]?
    var creditNotes: [CreditNoteBody]?

    enum CodingKeys: String, CodingKey {
        case id, number, source, orderID = "order_id", payment, paymentRef = "payment_ref", customerRef = "customer_ref", currency, status, issuedAt = "issued_at"
        case dueAt = "due_at", lines, snapshot, paidMinor = "paid_minor", creditedMinor = "credited_minor", outstandingMinor = "outstanding_minor"
        case voidReason = "void_reason", payments, creditNotes = "credit_notes"
    }

    init(_ invoice: Invoice, payments: [InvoicePayment]? = nil, creditNotes: [CreditNote]? = nil) {
        id = invoice.id
        number = invoice.number
        source = invoice.source.kind
        switch invoice.source {
        case .order(let order, let ref):
            orderID = order
            paymentRef = ref
        case .payment(let key):
            payment = InvoicedPayment(provider: key.provider.rawValue, paymentID: key.paymentID)
        }
        customerRef = invoice.customerRef
        currency = invoice.currency.rawValue
        status = invoice.status.rawValue
        issuedAt = RFC3339.string(invoice.issuedAt)
        dueAt = RFC3339.string(invoice.dueAt)
        lines = invoice.lines
        snapshot = invoice.snapshot
        paidMinor = invoice.paidMinor
        creditedMinor = invoice.creditedMinor
        outstandingMinor = invoice.outstandingMinor
        voidReason = invoice.voidReason
        self.payments = payments?.map {
            Payment(
                provider: $0.provider, paymentID: $0.reference, amountMinor: $0.amountMinor, transactionID: $0.transactionID,
                settledAt: RFC3339.string($0.settledAt))
        }
        self.creditNotes = creditNotes?.map(CreditNoteBody.init)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(number, forKey: .number)
        try container.encode(source, forKey: .source)
        try container.encode(orderID, forKey: .orderID)
        try container.encode(payment, forKey: .payment)
        try container.encode(paymentRef, forKey: .paymentRef)
        try container.encode(customerRef, forKey: .customerRef)
        try container.encode(currency, forKey: .currency)
        try container.encode(status, forKey: .status)
        try container.encode(issuedAt, forKey: .issuedAt)
        try container.encode(dueAt, forKey: .dueAt)
        try container.encode(lines, forKey: .lines)
        try container.encode(snapshot, forKey: .snapshot)
        try container.encode(paidMinor, forKey: .paidMinor)
        try container.encode(creditedMinor, forKey: .creditedMinor)
        try container.encode(outstandingMinor, forKey: .outstandingMinor)
        try container.encode(voidReason, forKey: .voidReason)
        try container.encodeIfPresent(payments, forKey: .payments)
        try container.encodeIfPresent(creditNotes, forKey: .creditNotes)
    }
}

struct CreditNoteBody: Encodable, ResponseEncodable, Sendable {
    var id: String
    var invoiceID: String
    var number: String
    var refundTransactionID: Int64
    var netMinor: Int64
    var taxMinor: Int64
    var totalMinor: Int64
    var reason: String?
    var createdAt: String
    var createdBy: String

    enum CodingKeys: String, CodingKey {
        case id, invoiceID = "invoice_id", number, refundTransactionID = "refund_transaction_id", netMinor = "net_minor", taxMinor = "tax_minor"
        case totalMinor = "total_minor", reason, createdAt = "created_at", createdBy = "created_by"
    }

    init(_ note: CreditNote) {
        id = note.id
        invoiceID = note.invoiceID
        number = note.number
        refundTransactionID = note.refundTransactionID
        netMinor = note.netMinor
        taxMinor = note.taxMinor
        totalMinor = note.totalMinor
        reason = note.reason
        createdAt = RFC3339.string(note.createdAt)
        createdBy = note.createdBy
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(invoiceID, forKey: .invoiceID)
        try container.encode(number, forKey: .number)
        try container.encode(refundTransactionID, forKey: .refundTransactionID)
        try container.encode(netMinor, forKey: .netMinor)
        try container.encode(taxMinor, forKey: .taxMinor)
        try container.encode(totalMinor, forKey: .totalMinor)
        try container.encode(reason, forKey: .reason)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(createdBy, forKey: .createdBy)
    }
}

struct CreditNoteAnswer: Encodable, ResponseEncodable, Sendable {
    var creditNote: CreditNoteBody
    var invoice: InvoiceBody
    enum CodingKeys: String, CodingKey { case creditNote = "credit_note", invoice }
}

struct InvoiceList: Encodable, ResponseEncodable, Sendable {
    var invoices: [InvoiceBody]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case invoices, nextCursor = "next_cursor" }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(invoices, forKey: .invoices)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

struct InvoiceSettingsBody: Codable, ResponseEncodable, Sendable {
    var taxRateBps: Int
    var paymentTermsDays: Int
    enum CodingKeys: String, CodingKey { case taxRateBps = "tax_rate_bps", paymentTermsDays = "payment_terms_days" }
}

struct InvoiceLinkBody: Encodable, ResponseEncodable, Sendable {
    var url: String
    var expiresAt: String
    /// Whether a `link_notice` notification request was queued for the customer.
    var sent: Bool
    var dedupeKey: String?
    enum CodingKeys: String, CodingKey { case url, expiresAt = "expires_at", sent, dedupeKey = "dedupe_key" }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(url, forKey: .url)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(sent, forKey: .sent)
        try container.encode(dedupeKey, forKey: .dedupeKey)
    }
}

struct InvoiceReconcileBody: Encodable, ResponseEncodable, Sendable {
    var invoice: InvoiceBody
    var changed: Bool
    var before: InvoiceReconciliation.State
    var after: InvoiceReconciliation.State
}

struct InvoiceMismatchList: Encodable, ResponseEncodable, Sendable {
    struct Row: Encodable, Sendable {
        var invoiceID: String
        var number: String
        var status: String
        var expectedStatus: String
        var totalMinor: Int64
        var paidMinor: Int64
        var ledgerPaidMinor: Int64
        var currency: String
        var paymentCount: Int
        var lastPaymentAt: String?
        var mismatch: Bool
        var reconcileURL: String
        enum CodingKeys: String, CodingKey {
            case invoiceID = "invoice_id", number, status, expectedStatus = "expected_status", totalMinor = "total_minor", paidMinor = "paid_minor"
            case ledgerPaidMinor = "ledger_paid_minor", currency, paymentCount = "payment_count", lastPaymentAt = "last_payment_at", mismatch
            case reconcileURL = "reconcile_url"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(invoiceID, forKey: .invoiceID)
            try container.encode(number, forKey: .number)
            try container.encode(status, forKey: .status)
            try container.encode(expectedStatus, forKey: .expectedStatus)
            try container.encode(totalMinor, forKey: .totalMinor)
            try container.encode(paidMinor, forKey: .paidMinor)
            try container.encode(ledgerPaidMinor, forKey: .ledgerPaidMinor)
            try container.encode(currency, forKey: .currency)
            try container.encode(paymentCount, forKey: .paymentCount)
            try container.encode(lastPaymentAt, forKey: .lastPaymentAt)
            try container.encode(mismatch, forKey: .mismatch)
            try container.encode(reconcileURL, forKey: .reconcileURL)
        }
    }
    var invoices: [Row]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case invoices, nextCursor = "next_cursor" }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(invoices, forKey: .invoices)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

struct ProviderInvoiceList: Encodable, ResponseEncodable, Sendable {
    struct Row: Encodable, Sendable {
        var provider: String
        var invoiceID: String
        var number: String?
        var status: String
        var subscriptionRef: String?
        var customerRef: String?
        var amountMinor: Int64
        var currency: String
        var paymentRef: String?
        var attemptCount: Int?
        var occurredAt: String
        enum CodingKeys: String, CodingKey {
            case provider, invoiceID = "invoice_id", number, status, subscriptionRef = "subscription_ref", customerRef = "customer_ref", amountMinor = "amount_minor"
            case currency, paymentRef = "payment_ref", attemptCount = "attempt_count", occurredAt = "occurred_at"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(provider, forKey: .provider)
            try container.encode(invoiceID, forKey: .invoiceID)
            try container.encode(number, forKey: .number)
            try container.encode(status, forKey: .status)
            try container.encode(subscriptionRef, forKey: .subscriptionRef)
            try container.encode(customerRef, forKey: .customerRef)
            try container.encode(amountMinor, forKey: .amountMinor)
            try container.encode(currency, forKey: .currency)
            try container.encode(paymentRef, forKey: .paymentRef)
            try container.encode(attemptCount, forKey: .attemptCount)
            try container.encode(occurredAt, forKey: .occurredAt)
        }
    }
    var invoices: [Row]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case invoices, nextCursor = "next_cursor" }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(invoices, forKey: .invoices)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}
