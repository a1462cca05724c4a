import Contracts
import Foundation

/// The postings of invoices (debit +, credit −). A capture already credited `income:revenue`
/// with the gross amount (`Postings.capture`); settling an invoice moves that amount from revenue
/// to the receivable, so revenue ends at the invoice's net and the tax sits in `tax_payable`.
///
/// | fact | entries |
/// |---|---|
/// | issue, total T = net N + tax X | `assets:receivables` +T, `income:revenue` −N, `liabilities:tax_payable` −X |
/// | settle by payment P, amount A | `income:revenue` +A, `assets:receivables` −A |
/// | money received outside a provider, amount A | `assets:bank:manual` +A, `assets:receivables` −A |
/// | void (nothing paid) | the issue's entries negated; reverses the issue |
/// | credit note C = net n + tax x | `income:revenue` +n, `liabilities:tax_payable` +x, `expenses:refunds` −C; reverses the issue |
///
/// A credit note follows a refund, which posted `expenses:refunds` +C against clearing: the note
/// turns that expense into less revenue and less tax owed.
enum InvoicePostings {
    static func issue(_ invoice: Invoice, cause: Postings.Cause) -> ProposedTransaction {
        var entries = [LedgerEntry(.receivables, invoice.snapshot.totalMinor, invoice.currency)]
        if invoice.snapshot.subtotalMinor > 0 { entries.append(LedgerEntry(.revenue, -invoice.snapshot.subtotalMinor, invoice.currency)) }
        if invoice.snapshot.taxMinor > 0 { entries.append(LedgerEntry(.taxPayable, -invoice.snapshot.taxMinor, invoice.currency)) }
        return proposal(invoice.issueKey, .invoiceIssued, nil, entries, cause)
    }

    /// One settlement per invoice and source: `invoice:<id>:settle:<provider>:<payment or reference>`.
    static func settlementKey(invoiceID: String, source: InvoicePayment.Source) -> String {
        "invoice:\(invoiceID):settle:\(source.provider):\(source.reference)"
    }

    /// Settles `amountMinor` of the receivable. A provider's payment takes it from revenue (its
    /// capture credited revenue with the gross amount); money received outside a provider had
    /// no capture, so it moves straight from the receivable to the bank.
    static func settle(_ invoice: Invoice, from source: InvoicePayment.Source, amountMinor: Int64, cause: Postings.Cause) -> ProposedTransaction {
        let debited: LedgerAccount =
            switch source {
            case .payment: .revenue
            case .manual: .manualReceipts
            }
        return proposal(
            settlementKey(invoiceID: invoice.id, source: source), .invoiceSettled, nil,
            [LedgerEntry(debited, amountMinor, invoice.currency), LedgerEntry(.receivables, -amountMinor, invoice.currency)], cause)
    }

    static func void(_ invoice: Invoice, cause: Postings.Cause) -> ProposedTransaction {
        let issued = issue(invoice, cause: cause)
        return proposal(
            "invoice:\(invoice.id):void", .invoiceVoided, invoice.issueKey,
            issued.entries.map { LedgerEntry(account: $0.account, currency: $0.currency, amountMinor: -$0.amountMinor) }, cause)
    }

    static func creditNote(_ note: CreditNote, invoice: Invoice, cause: Postings.Cause) -> ProposedTransaction {
        var entries: [LedgerEntry] = []
        if note.netMinor > 0 { entries.append(LedgerEntry(.revenue, note.netMinor, invoice.currency)) }
        if note.taxMinor > 0 { entries.append(LedgerEntry(.taxPayable, note.taxMinor, invoice.currency)) }
        entries.append(LedgerEntry(.refunds, -note.totalMinor, invoice.currency))
        return proposal("invoice:\(invoice.id):credit:\(note.ordinal)", .creditNote, invoice.issueKey, entries, cause)
    }

    private static func proposal(
        _ key: String, _ kind: TransactionKind, _ reverses: String?, _ entries: [LedgerEntry], _ cause: Postings.Cause
    ) -> ProposedTransaction {
        ProposedTransaction(
            key: key, kind: kind, payment: nil, reversesKey: reverses, causeEventID: cause.eventID, causeEventType: cause.eventType,
            occurredAt: LedgerSeal.truncated(cause.occurredAt), entries: entries)
    }
}
