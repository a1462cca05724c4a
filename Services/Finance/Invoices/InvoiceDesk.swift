import Contracts
import Foundation
import Logging
import Metrics
import PostgresNIO
import Storage

/// Issues invoices and keeps them right: the one place that numbers, posts the receivable,
/// applies payments, credits refunds, voids and reconciles. The order handler, the capture
/// handler and the admin routes all call it on a connection whose tenant transaction they own,
/// so an invoice's rules live once.
///
/// Guarantees:
/// - One invoice per order and per invoiced payment: work on one order or payment reference is
///   serialized (`lockReference`), and the existing invoice is returned on a repeat.
/// - Numbers are gapless per org and day (`InvoiceStore.nextNumber`, in the same transaction).
/// - The lines and the tax snapshot are computed once at issue and never again; the org's
///   settings are read at issue only.
/// - A payment is applied to an invoice at most once (its settlement key in the ledger and the
///   `invoice_payments` primary key), never for more than is outstanding.
struct InvoiceDesk: Sendable {
    let schema: ServiceSchema
    let logger: Logger
    let now: @Sendable () -> Date

    /// Who or what asked, for the ledger's cause and the published message.
    struct Cause: Sendable {
        var tenant: TenantID
        var eventID: String
        var eventType: String
        var correlationID: String
        var occurredAt: Date
    }

    /// The cause of a person's action: a fresh id, `admin.<action>` as its type, the request's
    /// correlation id (or the fresh id) so the ledger row and the published message lead back to it.
    func personCause(org: TenantID, action: String, subject: String, correlationID: String?, now: Date) -> Cause {
        let id = "admin-" + UUID().uuidString.lowercased()
        return Cause(tenant: org, eventID: id, eventType: "admin.\(action)", correlationID: correlationID ?? id, occurredAt: now)
    }

    enum IssueFailure: Error, Equatable {
        case unknownPayment
        case paymentNotCaptured
        /// The payment belongs to an order or a provider invoice, which is its invoice.
        case paymentHasItsInvoice(String)
        case lines(InvoiceLineError)
    }

    private func stores(_ connection: PostgresConnection) -> (InvoiceStore, PostgresFinanceStore) {
        (InvoiceStore(schema: schema, connection: connection, logger: logger), PostgresFinanceStore(schema: schema, connection: connection, logger: logger))
    }

    // MARK: Issue

    /// The invoice of `order`, issued now unless it exists; `created` says which.
    func issue(order: OrderPlaced, cause: Cause, on connection: PostgresConnection) async throws -> Result<(invoice: Invoice, created: Bool), IssueFailure> {
        let (invoices, _) = stores(connection)
        try await invoices.lockReference("order:\(order.orderID)")
        if let paymentRef = order.paymentRef { try await invoices.lockReference("payment:\(paymentRef)") }
        if let existing = try await invoices.invoice(orderID: order.orderID) { return .success((existing, false)) }
        // The payment the order names was invoiced on its own before the order arrived: that
        // invoice is the order's; a second one would count the sale twice.
        if let paymentRef = order.paymentRef,
            let invoiced = try await invoices.invoices(where: "i.source = 'payment' AND i.payment_id = $1", [.text(paymentRef)], limit: 1).first
        {
            logger.notice("order's payment already has its invoice", metadata: ["invoice": "\(invoiced.id)", "number": "\(invoiced.number)"])
            return .success((invoiced, false))
        }
        let lines: [InvoiceLine]
        do throws(InvoiceLineError) { lines = try InvoiceTax.lines(from: order.lines, currency: order.total.currency) } catch { return .failure(.lines(error)) }
        let invoice = try await create(
            source: .order(orderID: order.orderID, paymentRef: order.paymentRef), customerRef: order.customerRef, customerProvider: order.origin.provider,
            currency: order.total.currency, lines: lines, cause: cause, on: connection)
        return .success((try await applyPayments(to: invoice, cause: cause, on: connection), true))
    }

    /// The invoice of a captured payment that has no order, issued now unless it exists, with
    /// one line that includes tax at the org's current rate.
    func issue(payment key: PaymentKey, cause: Cause, on connection: PostgresConnection) async throws -> Result<(invoice: Invoice, created: Bool), IssueFailure> {
        let (invoices, finance) = stores(connection)
        try await invoices.lockReference("payment:\(key.paymentID)")
        if let existing = try await invoices.invoice(payment: key) { return .success((existing, false)) }
        guard let payment = try await finance.payment(key) else { return .failure(.unknownPayment) }
        guard payment.isCaptured, payment.capturedMinor > 0, let currency = payment.currency else { return .failure(.paymentNotCaptured) }
        if let orderRef = payment.orderRef { return .failure(.paymentHasItsInvoice("order \(orderRef)")) }
        if let order = try await invoices.invoices(forPayment: key, orderRef: nil, lock: false).first { return .failure(.paymentHasItsInvoice(order.number)) }
        if let provided = try await invoices.providerInvoice(paidBy: key) { return .failure(.paymentHasItsInvoice("provider invoice \(provided)")) }
        let settings = try await invoices.settings()
        let line: InvoiceLine
        do throws(InvoiceLineError) {
            line = try InvoiceTax.inclusiveLine(description: "Payment \(key.paymentID)", grossMinor: payment.capturedMinor, rateBps: settings.taxRateBps)
        } catch {
            return .failure(.lines(error))
        }
        let invoice = try await create(
            source: .payment(key), customerRef: payment.customerRef, customerProvider: key.provider, currency: currency, lines: [line], cause: cause, on: connection)
        return .success((try await applyPayments(to: invoice, cause: cause, on: connection), true))
    }

    private func create(
        source: InvoiceSource, customerRef: String?, customerProvider: WebhookProvider, currency: CurrencyCode, lines: [InvoiceLine], cause: Cause,
        on connection: PostgresConnection
    ) async throws -> Invoice {
        let (invoices, finance) = stores(connection)
        let time = LedgerSeal.truncated(now())
        let settings = try await invoices.settings()
        let day = InvoiceNumbering.day(time)
        let number = InvoiceNumbering.number(day: day, sequence: try await invoices.nextNumber(day: day))
        let dueAt = time.addingTimeInterval(Double(settings.paymentTermsDays) * 86_400)
        let invoice = Invoice(
            id: "inv_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""), number: number, source: source, customerRef: customerRef,
            customerProvider: customerProvider, currency: currency, lines: lines, snapshot: TaxSnapshot(lines: lines), issuedAt: time, dueAt: dueAt,
            status: .issued, paidMinor: 0, creditedMinor: 0, voidReason: nil)
        let posted = try await post(InvoicePostings.issue(invoice, cause: ledgerCause(cause)), cause: cause, finance: finance, at: time)
        try await invoices.insert(invoice, issueTransactionID: posted.id, at: time)
        Counter(label: "finance_invoices_issued_total", dimensions: [("source", source.kind)]).increment()
        return invoice
    }

    // MARK: Payments

    /// Applies the captured payments of `invoice` not applied yet (oldest first, each up to what
    /// is outstanding) and sets its status from what is settled.
    func applyPayments(to invoice: Invoice, cause: Cause, on connection: PostgresConnection) async throws -> Invoice {
        let (invoices, finance) = stores(connection)
        guard var current = try await invoices.invoice(id: invoice.id, lock: true) else { return invoice }
        let applied = Set(try await invoices.payments(of: current.id).compactMap(\.payment))
        let time = LedgerSeal.truncated(now())
        let before = current
        if current.status != .void {
            for captured in try await invoices.capturedPayments(for: current) where !applied.contains(captured.key) && captured.currency == current.currency {
                let amount = min(captured.capturedMinor, current.outstandingMinor)
                guard amount > 0 else { break }
                let settled = try await settle(current, from: .payment(captured.key), amountMinor: amount, cause: cause, invoices: invoices, finance: finance, at: time)
                current.paidMinor += settled.payment.amountMinor
            }
        }
        let status = InvoiceStatus.derived(
            totalMinor: current.snapshot.totalMinor, paidMinor: current.paidMinor, dueAt: current.dueAt, now: time, voided: current.status == .void)
        current.status = status
        if current != before {
            try await invoices.update(current, at: time)
        }
        return current
    }

    /// Records money a person says was received outside any provider against the invoice (an
    /// installment marked paid): at most what is outstanding, once per `reference` (a repeat
    /// changes nothing), posted as a settlement so the reconcile counts it like a payment.
    func receiveManually(invoiceID: String, reference: String, amountMinor: Int64, cause: Cause, on connection: PostgresConnection) async throws -> Invoice? {
        let (invoices, finance) = stores(connection)
        guard var invoice = try await invoices.invoice(id: invoiceID, lock: true), invoice.status != .void else { return nil }
        guard !(try await invoices.payments(of: invoiceID)).contains(where: { $0.source == .manual(reference: reference) }) else { return invoice }
        let amount = min(amountMinor, invoice.outstandingMinor)
        guard amount > 0 else { return invoice }
        let time = LedgerSeal.truncated(now())
        let settled = try await settle(invoice, from: .manual(reference: reference), amountMinor: amount, cause: cause, invoices: invoices, finance: finance, at: time)
        invoice.paidMinor += settled.payment.amountMinor
        invoice.status = InvoiceStatus.derived(
            totalMinor: invoice.snapshot.totalMinor, paidMinor: invoice.paidMinor, dueAt: invoice.dueAt, now: time, voided: false)
        try await invoices.update(invoice, at: time)
        Counter(label: "finance_manual_receipts_total").increment()
        return invoice
    }

    /// After a capture: applies it to the invoice of its order (or of the order that named
    /// it), if one is issued, and settles the installment whose reference it quotes (then the
    /// plan's invoice takes it). A payment already applied to one invoice is never applied to
    /// another.
    func applyCapture(of payment: PaymentKey, cause: Cause, on connection: PostgresConnection) async throws {
        let (invoices, finance) = stores(connection)
        guard let record = try await finance.payment(payment), record.isCaptured else { return }
        if let orderRef = record.orderRef { try await invoices.lockReference("order:\(orderRef)") }
        try await invoices.lockReference("payment:\(payment.paymentID)")
        var candidates = try await invoices.invoices(forPayment: payment, orderRef: record.orderRef, lock: false)
        if let own = try await invoices.invoice(payment: payment) { candidates.append(own) }
        // A payment quoting an installment's reference settles the installment, and then the
        // plan's invoice.
        if let planned = try await PlanDesk(schema: schema, logger: logger, now: now).applyCapture(of: record, on: connection),
            let invoice = try await invoices.invoice(id: planned), !candidates.contains(where: { $0.id == planned })
        {
            candidates.append(invoice)
        }
        for invoice in candidates { _ = try await applyPayments(to: invoice, cause: cause, on: connection) }
    }

    // MARK: Reconcile, credit, void

    /// Locks the invoice, applies what the ledger holds for it, and sets its paid amount and
    /// status from its settlement transactions. A repeat changes nothing; no payment is made up:
    /// only captures the ledger holds are applied.
    func reconcile(id: String, cause: Cause, on connection: PostgresConnection) async throws -> (Invoice, InvoiceReconciliation)? {
        let (invoices, _) = stores(connection)
        guard var invoice = try await invoices.invoice(id: id, lock: true) else { return nil }
        let storedCount = try await invoices.payments(of: id).count
        // Captures the ledger holds that were never applied (an order and its capture that
        // missed each other) are applied first; the status is then decided from the ledger.
        try await applyMissing(invoice, cause: cause, on: connection)
        let settled = try await invoices.settledInLedger(invoiceID: id).map(\.amountMinor)
        let decision = InvoiceReconciliation.decide(invoice: invoice, storedPaymentCount: storedCount, settledMinor: settled, now: now())
        if decision.changed {
            invoice.status = decision.after.status
            invoice.paidMinor = decision.after.paidMinor
            try await invoices.update(invoice, at: LedgerSeal.truncated(now()))
        }
        return (invoice, decision)
    }

    /// Applies captures not yet applied without touching the stored status (the reconcile
    /// decides that from the ledger afterwards).
    private func applyMissing(_ invoice: Invoice, cause: Cause, on connection: PostgresConnection) async throws {
        let (invoices, finance) = stores(connection)
        guard invoice.status != .void else { return }
        let applied = Set(try await invoices.payments(of: invoice.id).compactMap(\.payment))
        var outstanding = invoice.snapshot.totalMinor - (try await invoices.settledInLedger(invoiceID: invoice.id).reduce(0) { $0 + $1.amountMinor })
        let time = LedgerSeal.truncated(now())
        for captured in try await invoices.capturedPayments(for: invoice) where !applied.contains(captured.key) && captured.currency == invoice.currency {
            let amount = min(captured.capturedMinor, outstanding)
            guard amount > 0 else { break }
            // A settlement posted but never listed (a repair) was already counted in `outstanding`.
            let settled = try await settle(invoice, from: .payment(captured.key), amountMinor: amount, cause: cause, invoices: invoices, finance: finance, at: time)
            if settled.posted { outstanding -= amount }
        }
    }

    /// A credit note for the latest (or the named) refund of the invoice's payments.
    func creditNote(
        invoiceID: String, refundKey: String?, reason: String?, by actor: String, cause: Cause, on connection: PostgresConnection
    ) async throws -> Result<
        (Invoice, CreditNote), CreditNoteRefusal
    >? {
        let (invoices, finance) = stores(connection)
        guard var invoice = try await invoices.invoice(id: invoiceID, lock: true) else { return nil }
        let existing = try await invoices.creditNotes(of: invoiceID)
        let refunds = try await invoices.refunds(of: invoiceID)
        let time = LedgerSeal.truncated(now())
        let note: CreditNote
        do throws(CreditNoteRefusal) {
            note = try CreditNoteRules.decide(
                invoice: invoice, existing: existing, refunds: refunds, refundKey: refundKey,
                id: "cn_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""), reason: reason, by: actor, now: time)
        } catch {
            return .failure(error)
        }
        let posted = try await post(InvoicePostings.creditNote(note, invoice: invoice, cause: ledgerCause(cause)), cause: cause, finance: finance, at: time)
        try await invoices.insert(note, transactionID: posted.id)
        invoice.creditedMinor += note.totalMinor
        try await invoices.update(invoice, at: time)
        Counter(label: "finance_credit_notes_total").increment()
        return .success((invoice, note))
    }

    enum VoidRefusal: Error, Equatable {
        case alreadyVoid
        case hasPayments(Int64)
        /// An active payment plan still collects it: renegotiate or settle the plan first.
        case hasPlan(String)
    }

    /// Voids an invoice nothing was paid on and no active plan collects, reversing its
    /// receivable; its number stays used.
    func void(invoiceID: String, reason: String, cause: Cause, on connection: PostgresConnection) async throws -> Result<Invoice, VoidRefusal>? {
        let (invoices, finance) = stores(connection)
        guard var invoice = try await invoices.invoice(id: invoiceID, lock: true) else { return nil }
        guard invoice.status != .void else { return .failure(.alreadyVoid) }
        guard invoice.paidMinor == 0 else { return .failure(.hasPayments(invoice.paidMinor)) }
        if let plan = try await PlanStore(schema: schema, connection: connection, logger: logger).activePlan(invoiceID: invoiceID) {
            return .failure(.hasPlan(plan.id))
        }
        let time = LedgerSeal.truncated(now())
        _ = try await post(InvoicePostings.void(invoice, cause: ledgerCause(cause)), cause: cause, finance: finance, at: time)
        invoice.status = .void
        invoice.voidReason = reason
        try await invoices.update(invoice, at: time)
        return .success(invoice)
    }

    /// Sets `overdue` on invoices whose due date passed and that are not covered; the count changed.
    func markOverdue(on connection: PostgresConnection, limit: Int = 500) async throws -> Int {
        let (invoices, _) = stores(connection)
        let time = LedgerSeal.truncated(now())
        var changed = 0
        for var invoice in try await invoices.invoices(
            where: "i.status IN ('issued', 'partial') AND i.due_at < $1", [.time(time)], order: "i.due_at, i.id", limit: limit, lock: true)
        {
            invoice.status = .overdue
            try await invoices.update(invoice, at: time)
            changed += 1
        }
        return changed
    }

    // MARK: Posting

    private func ledgerCause(_ cause: Cause) -> Postings.Cause {
        Postings.Cause(eventID: cause.eventID, eventType: cause.eventType, occurredAt: cause.occurredAt)
    }

    /// Settles `amountMinor` of `invoice` from `source` and lists it in `invoice_payments`. A
    /// settlement the ledger already holds under its key (posted but never listed: a repair) is
    /// listed as the ledger holds it and not posted again; `posted` says which happened.
    private func settle(
        _ invoice: Invoice, from source: InvoicePayment.Source, amountMinor: Int64, cause: Cause, invoices: InvoiceStore, finance: PostgresFinanceStore,
        at time: Date
    ) async throws -> (payment: InvoicePayment, posted: Bool) {
        let proposal = InvoicePostings.settle(invoice, from: source, amountMinor: amountMinor, cause: ledgerCause(cause))
        let existing = try await invoices.settlement(key: proposal.key)
        let settled: (transactionID: Int64, amountMinor: Int64)
        if let existing {
            settled = existing
        } else {
            settled = (try await post(proposal, cause: cause, finance: finance, at: time).id, amountMinor)
        }
        let payment = InvoicePayment(source: source, amountMinor: settled.amountMinor, transactionID: settled.transactionID, settledAt: time)
        try await invoices.insert(payment, invoiceID: invoice.id)
        return (payment, existing == nil)
    }

    private func post(_ proposal: ProposedTransaction, cause: Cause, finance: PostgresFinanceStore, at time: Date) async throws -> PostedTransaction {
        let posted = try await finance.post(proposal, postedAt: time)
        try await finance.enqueue(
            try LedgerPublication.message(posted, tenant: cause.tenant, correlationID: cause.correlationID, causationID: cause.eventID, now: time))
        Counter(label: "finance_transactions_posted_total", dimensions: [("kind", proposal.kind.rawValue)]).increment()
        return posted
    }
}
