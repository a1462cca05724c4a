import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// An open installment past its due date, as the overdue list shows it.
struct OverdueInstallment: Hashable, Sendable {
    var planID: String
    var invoiceID: String?
    var customerRef: String?
    var customerProvider: WebhookProvider
    var currency: CurrencyCode
    var installment: Installment
    var installmentCount: Int
}

/// The payment plan tables' SQL, on a connection whose transaction set the org.
struct PlanStore: Sendable {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger

    private var s: String { schema.name }

    func insert(_ plan: PaymentPlan, at time: Date) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).payment_plans (org_id, id, invoice_id, customer_ref, customer_provider, currency, total_minor, status, replaces_plan_id,
                reason, created_at, created_by, updated_at)
            VALUES (current_setting('tally.org_id', true), \(plan.id), \(plan.invoiceID), \(plan.customerRef), \(plan.customerProvider.rawValue),
                \(plan.currency.rawValue), \(plan.totalMinor), \(plan.status.rawValue), \(plan.replacesPlanID), \(plan.reason), \(plan.createdAt),
                \(plan.createdBy), \(time))
            """, logger: logger)
        let items = plan.installments
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).installments (org_id, plan_id, number, due_on, amount_minor, reference, status)
            SELECT current_setting('tally.org_id', true), \(plan.id), n, due, amount, reference, 'open'
            FROM unnest(\(items.map { Int32($0.number) })::int[], \(items.map(\.dueOn))::timestamptz[], \(items.map(\.amountMinor))::bigint[],
                        \(items.map(\.reference))::text[]) AS i(n, due, amount, reference)
            """, logger: logger)
    }

    /// Writes what moves: the plan's status and each installment's status and payment.
    func update(_ plan: PaymentPlan, at time: Date) async throws {
        try await connection.query(
            """
            UPDATE \(unescaped: s).payment_plans SET status = \(plan.status.rawValue), updated_at = \(time)
            WHERE org_id = current_setting('tally.org_id', true) AND id = \(plan.id)
            """, logger: logger)
        for item in plan.installments {
            try await connection.query(
                """
                UPDATE \(unescaped: s).installments SET status = \(item.status.rawValue), paid_at = \(item.paidAt), paid_by = \(item.paidBy),
                    payment_provider = \(item.payment?.provider.rawValue), payment_id = \(item.payment?.paymentID), note = \(item.note)
                WHERE org_id = current_setting('tally.org_id', true) AND plan_id = \(plan.id) AND number = \(item.number)
                  AND (status, paid_at, payment_id, note) IS DISTINCT FROM (\(item.status.rawValue), \(item.paidAt), \(item.payment?.paymentID), \(item.note))
                """, logger: logger)
        }
    }

    func plan(id: String, lock: Bool = false) async throws -> PaymentPlan? {
        try await plans(where: "p.id = $1", [.text(id)], limit: 1, lock: lock).first
    }

    func activePlan(invoiceID: String) async throws -> PaymentPlan? {
        try await plans(where: "p.invoice_id = $1 AND p.status = 'active'", [.text(invoiceID)], limit: 1).first
    }

    func plans(after: String?, limit: Int) async throws -> [PaymentPlan] {
        try await plans(where: "($1::text IS NULL OR p.id > $1)", [.text(after)], limit: limit)
    }

    private func plans(where filter: String, _ values: [Bind], limit: Int, lock: Bool = false) async throws -> [PaymentPlan] {
        let sql = """
            SELECT p.id, p.invoice_id, p.customer_ref, p.customer_provider, p.currency, p.total_minor, p.status, p.replaces_plan_id, p.reason, p.created_at,
                   p.created_by
            FROM \(s).payment_plans p WHERE \(filter) ORDER BY p.id LIMIT \(limit) \(lock ? "FOR UPDATE" : "")
            """
        var found: [PaymentPlan] = []
        for try await row in try await connection.query(try FilteredQuery.make(sql, values), logger: logger) {
            let cells = row.makeRandomAccess()
            func cell<T: PostgresDecodable>(_ index: Int, _: T.Type) throws -> T { try cells[index].decode(T.self, context: .default) }
            guard let provider = WebhookProvider(rawValue: try cell(3, String.self)), let currency = CurrencyCode(rawValue: try cell(4, String.self)),
                let status = PlanStatus(rawValue: try cell(6, String.self))
            else { continue }
            found.append(
                PaymentPlan(
                    id: try cell(0, String.self), invoiceID: try cell(1, String?.self), customerRef: try cell(2, String?.self), customerProvider: provider,
                    currency: currency, totalMinor: try cell(5, Int64.self), status: status, replacesPlanID: try cell(7, String?.self), reason: try cell(8, String?.self),
                    createdAt: try cell(9, Date.self), createdBy: try cell(10, String.self), installments: []))
        }
        guard !found.isEmpty else { return [] }
        var byPlan: [String: [Installment]] = [:]
        for try await row in try await connection.query(
            """
            SELECT plan_id, number, due_on, amount_minor, reference, status, paid_at, paid_by, payment_provider, payment_id, note
            FROM \(unescaped: s).installments WHERE plan_id = ANY(\(found.map(\.id))::text[]) ORDER BY plan_id, number
            """, logger: logger
        ) {
            let cells = row.makeRandomAccess()
            func cell<T: PostgresDecodable>(_ index: Int, _: T.Type) throws -> T { try cells[index].decode(T.self, context: .default) }
            guard let status = InstallmentStatus(rawValue: try cell(5, String.self)) else { continue }
            let provider = try cell(8, String?.self).flatMap(WebhookProvider.init(rawValue:))
            let paymentID = try cell(9, String?.self)
            let payment = provider.flatMap { known in paymentID.map { PaymentKey(provider: known, paymentID: $0) } }
            byPlan[try cell(0, String.self), default: []].append(
                Installment(
                    number: try cell(1, Int.self), dueOn: try cell(2, Date.self), amountMinor: try cell(3, Int64.self), reference: try cell(4, String.self),
                    status: status, paidAt: try cell(6, Date?.self), paidBy: try cell(7, String?.self), payment: payment, note: try cell(10, String?.self)))
        }
        return found.map { plan in
            var filled = plan
            filled.installments = byPlan[plan.id] ?? []
            return filled
        }
    }

    /// SQL over a plan `p`: it still collects something (no invoice, or an invoice neither paid
    /// nor void). An invoice paid in full another way leaves its plan's installments unreminded.
    static func stillOwed(_ schema: String) -> String {
        """
        (p.invoice_id IS NULL OR EXISTS (SELECT 1 FROM \(schema).invoices v WHERE v.org_id = p.org_id AND v.id = p.invoice_id
                                         AND v.status NOT IN ('paid', 'void')))
        """
    }

    /// The open installment a payment's references name, if any: `(plan id, number)`.
    func openInstallment(references: [String]) async throws -> (planID: String, number: Int)? {
        for try await (plan, number) in try await connection.query(
            """
            SELECT plan_id, number FROM \(unescaped: s).installments WHERE status = 'open' AND reference = ANY(\(references)::text[])
            ORDER BY plan_id, number LIMIT 1
            """, logger: logger
        ).decode((String, Int).self) { return (plan, number) }
        return nil
    }

    /// Open installments due more than `minDays` days before `now`, oldest first, after `(due_on, plan, number)`.
    func overdue(minDays: Int, now: Date, after: (Date, String, Int)?, limit: Int) async throws -> [OverdueInstallment] {
        let before = now.addingTimeInterval(-Double(minDays) * 86_400)
        var found: [OverdueInstallment] = []
        for try await row in try await connection.query(
            """
            SELECT i.plan_id, p.invoice_id, p.customer_ref, p.customer_provider, p.currency, i.number, i.due_on, i.amount_minor, i.reference,
                   (SELECT count(*)::int FROM \(unescaped: s).installments c WHERE c.plan_id = i.plan_id)
            FROM \(unescaped: s).installments i JOIN \(unescaped: s).payment_plans p ON p.org_id = i.org_id AND p.id = i.plan_id
            WHERE i.status = 'open' AND i.due_on < \(before) AND p.status = 'active' AND \(unescaped: Self.stillOwed(s))
              AND (\(after?.0)::timestamptz IS NULL OR (i.due_on, i.plan_id, i.number) > (\(after?.0), \(after?.1), \(after.map { Int32($0.2) })))
            ORDER BY i.due_on, i.plan_id, i.number LIMIT \(limit)
            """, logger: logger
        ) {
            let cells = row.makeRandomAccess()
            func cell<T: PostgresDecodable>(_ index: Int, _: T.Type) throws -> T { try cells[index].decode(T.self, context: .default) }
            guard let provider = WebhookProvider(rawValue: try cell(3, String.self)), let currency = CurrencyCode(rawValue: try cell(4, String.self)) else { continue }
            found.append(
                OverdueInstallment(
                    planID: try cell(0, String.self), invoiceID: try cell(1, String?.self), customerRef: try cell(2, String?.self), customerProvider: provider,
                    currency: currency,
                    installment: Installment(
                        number: try cell(5, Int.self), dueOn: try cell(6, Date.self), amountMinor: try cell(7, Int64.self), reference: try cell(8, String.self),
                        status: .open, paidAt: nil, paidBy: nil, payment: nil, note: nil),
                    installmentCount: try cell(9, Int.self)))
        }
        return found
    }

    /// Records a reminder step of an installment; false when it was sent before.
    func recordReminder(planID: String, number: Int, step: Int, at time: Date) async throws -> Bool {
        var inserted = false
        for try await _ in try await connection.query(
            """
            INSERT INTO \(unescaped: s).installment_reminders (org_id, plan_id, number, step, requested_at)
            VALUES (current_setting('tally.org_id', true), \(planID), \(number), \(step), \(time))
            ON CONFLICT DO NOTHING RETURNING 1
            """, logger: logger
        ) { inserted = true }
        return inserted
    }

    /// What is owed: invoices' outstanding amounts (those without an active plan) and the open
    /// installments of active plans.
    func receivables() async throws -> [ReceivablesReport.Item] {
        var items: [ReceivablesReport.Item] = []
        for try await (customer, currency, amount, due, installment) in try await connection.query(
            """
            SELECT i.customer_ref, i.currency, i.total_minor - i.paid_minor, i.due_at, false FROM \(unescaped: s).invoices i
            WHERE i.status IN ('issued', 'partial', 'overdue') AND i.total_minor > i.paid_minor
              AND NOT EXISTS (SELECT 1 FROM \(unescaped: s).payment_plans p WHERE p.org_id = i.org_id AND p.invoice_id = i.id AND p.status = 'active')
            UNION ALL
            SELECT p.customer_ref, p.currency, n.amount_minor, n.due_on, true FROM \(unescaped: s).installments n
            JOIN \(unescaped: s).payment_plans p ON p.org_id = n.org_id AND p.id = n.plan_id
            WHERE n.status = 'open' AND p.status = 'active' AND \(unescaped: Self.stillOwed(s))
            """, logger: logger
        ).decode((String?, String, Int64, Date, Bool).self) {
            guard let code = CurrencyCode(rawValue: currency) else { continue }
            items.append(ReceivablesReport.Item(customerRef: customer, currency: code, amountMinor: amount, dueAt: due, isInstallment: installment))
        }
        return items
    }

    /// Orgs with an open installment due more than `minDays` days before `now` (operator scope).
    static func orgsWithOverdue(minDays: Int, now: Date, client: PostgresClient, schema: ServiceSchema, logger: Logger) async throws -> [TenantID] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
            var orgs: [TenantID] = []
            for try await org in try await connection.query(
                """
                SELECT DISTINCT i.org_id FROM \(unescaped: schema.name).installments i
                JOIN \(unescaped: schema.name).payment_plans p ON p.org_id = i.org_id AND p.id = i.plan_id
                WHERE i.status = 'open' AND i.due_on < \(now.addingTimeInterval(-Double(minDays) * 86_400)) AND p.status = 'active'
                  AND \(unescaped: stillOwed(schema.name))
                ORDER BY 1
                """, logger: logger
            ).decode(String.self) {
                if let tenant = TenantID(rawValue: org) { orgs.append(tenant) }
            }
            return orgs
        }
    }
}
