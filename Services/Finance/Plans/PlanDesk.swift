import Contracts
import Foundation
import Logging
import Metrics
import PostgresNIO
import Storage

/// Payment plans (the seeds' overdue installments and renegotiation): creating a plan for an
/// invoice or a customer, settling installments by matching payments or by a person, and
/// renegotiating what is still open. Each call runs on a connection whose tenant transaction the
/// caller owns; the plan row is locked while it is decided.
///
/// Guarantees: installments always add up to the plan's total (`PlanRules.schedule`); one active
/// plan per invoice (a unique index); an installment is paid once; a renegotiation keeps the old
/// installments (`renegotiated`) and covers exactly what was open.
struct PlanDesk: Sendable {
    let schema: ServiceSchema
    let logger: Logger
    let now: @Sendable () -> Date

    enum Failure: Error, Equatable {
        case unknownInvoice
        case invoiceNotOpen(InvoiceStatus)
        case invoiceHasPlan(String)
        case customerRequired
        case unknownPlan
        case refused(PlanRefusal)
    }

    /// What a plan is for.
    enum Subject: Sendable {
        case invoice(String)
        case customer(ref: String, provider: WebhookProvider, amount: Money)
    }

    private func stores(_ connection: PostgresConnection) -> (PlanStore, InvoiceStore) {
        (PlanStore(schema: schema, connection: connection, logger: logger), InvoiceStore(schema: schema, connection: connection, logger: logger))
    }

    static func newPlanID() -> String { "pln_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "") }

    func create(
        _ subject: Subject, schedule: ScheduleRequest, reason: String?, by actor: String, on connection: PostgresConnection
    ) async throws -> Result<
        PaymentPlan, Failure
    > {
        let (plans, invoices) = stores(connection)
        let id = Self.newPlanID()
        let time = LedgerSeal.truncated(now())
        var plan: PaymentPlan
        switch subject {
        case .invoice(let invoiceID):
            guard let invoice = try await invoices.invoice(id: invoiceID, lock: true) else { return .failure(.unknownInvoice) }
            guard invoice.status != .void, invoice.outstandingMinor > 0 else { return .failure(.invoiceNotOpen(invoice.status)) }
            if let existing = try await plans.activePlan(invoiceID: invoiceID) { return .failure(.invoiceHasPlan(existing.id)) }
            plan = PaymentPlan(
                id: id, invoiceID: invoice.id, customerRef: invoice.customerRef, customerProvider: invoice.customerProvider, currency: invoice.currency,
                totalMinor: invoice.outstandingMinor, status: .active, replacesPlanID: nil, reason: reason, createdAt: time, createdBy: actor, installments: [])
        case .customer(let ref, let provider, let amount):
            guard amount.amountMinor > 0 else { return .failure(.refused(.tooSmall(totalMinor: amount.amountMinor, count: 1))) }
            plan = PaymentPlan(
                id: id, invoiceID: nil, customerRef: ref, customerProvider: provider, currency: amount.currency, totalMinor: amount.amountMinor, status: .active,
                replacesPlanID: nil, reason: reason, createdAt: time, createdBy: actor, installments: [])
        }
        do throws(PlanRefusal) {
            plan.installments = try PlanRules.schedule(schedule, totalMinor: plan.totalMinor, planID: id)
        } catch {
            return .failure(.refused(error))
        }
        try await plans.insert(plan, at: time)
        Counter(label: "finance_payment_plans_created_total").increment()
        return .success(plan)
    }

    /// A person marks installment `number` paid (money received outside a provider). When the
    /// plan collects an invoice, the money is recorded against it as a manual receipt
    /// (`InvoiceDesk.receiveManually`), so a plan paid in full leaves nothing owed.
    func markPaid(
        planID: String, number: Int, note: String, by actor: String, org: TenantID, correlationID: String?, on connection: PostgresConnection
    ) async throws -> Result<
        (before: PaymentPlan, after: PaymentPlan), Failure
    > {
        let (plans, _) = stores(connection)
        guard let before = try await plans.plan(id: planID, lock: true) else { return .failure(.unknownPlan) }
        let after: PaymentPlan
        do throws(PlanRefusal) {
            after = try PlanRules.markPaid(before, number: number, payment: nil, by: actor, note: note, at: LedgerSeal.truncated(now()))
        } catch {
            return .failure(.refused(error))
        }
        try await plans.update(after, at: LedgerSeal.truncated(now()))
        if let invoiceID = after.invoiceID, let installment = after.installments.first(where: { $0.number == number }) {
            let invoices = InvoiceDesk(schema: schema, logger: logger, now: now)
            let cause = invoices.personCause(
                org: org, action: "installment.mark_paid", subject: actor, correlationID: correlationID,
                now: now())
            _ = try await invoices.receiveManually(
                invoiceID: invoiceID, reference: "plan:\(planID):\(number)", amountMinor: installment.amountMinor, cause: cause, on: connection)
        }
        return .success((before, after))
    }

    func renegotiate(
        planID: String, schedule: ScheduleRequest, reason: String, by actor: String, on connection: PostgresConnection
    ) async throws -> Result<
        (before: PaymentPlan, old: PaymentPlan, new: PaymentPlan), Failure
    > {
        let (plans, _) = stores(connection)
        guard let before = try await plans.plan(id: planID, lock: true) else { return .failure(.unknownPlan) }
        let time = LedgerSeal.truncated(now())
        let changed: (old: PaymentPlan, new: PaymentPlan)
        do throws(PlanRefusal) {
            changed = try PlanRules.renegotiate(before, schedule: schedule, newPlanID: Self.newPlanID(), reason: reason, by: actor, now: time)
        } catch {
            return .failure(.refused(error))
        }
        try await plans.update(changed.old, at: time)
        try await plans.insert(changed.new, at: time)
        return .success((before, changed.old, changed.new))
    }

    /// After a capture: settles the open installment whose reference the payment carries (its
    /// order reference or its id); the plan's invoice then takes the payment. Returns the plan's
    /// invoice id when one was settled.
    func applyCapture(of record: PaymentRecord, on connection: PostgresConnection) async throws -> String? {
        let (plans, _) = stores(connection)
        let references = [record.orderRef, record.key.paymentID].compactMap { $0 }
        guard let found = try await plans.openInstallment(references: references),
            let plan = try await plans.plan(id: found.planID, lock: true),
            let installment = plan.installments.first(where: { $0.number == found.number }),
            record.currency == plan.currency, record.capturedMinor >= installment.amountMinor
        else { return nil }
        let time = LedgerSeal.truncated(now())
        guard let paid = try? PlanRules.markPaid(plan, number: found.number, payment: record.key, by: nil, note: nil, at: time) else { return nil }
        try await plans.update(paid, at: time)
        logger.info("installment settled by a payment", metadata: ["plan": "\(plan.id)", "number": "\(found.number)", "payment": "\(record.key)"])
        return plan.invoiceID
    }
}
