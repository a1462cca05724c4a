import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import ServiceRuntime
import Storage
import TallyTestSupport
import Testing

@testable import Finance

/// The plan rules as plain functions: schedules that add up, renegotiation, reminder steps and
/// the receivables report.
@Suite("Payment plan rules")
struct PlanRuleTests {
    static let usd = CurrencyCode(rawValue: "USD")!
    static let day0 = ExportPeriod.parseDay("2026-12-01")!

    @Test(arguments: [RemainderPlacement.first, .last])
    func evenSchedulesAddUpWithTheRemainderWhereAsked(remainder: RemainderPlacement) throws {
        let items = try PlanRules.schedule(.even(count: 3, firstDue: Self.day0, intervalDays: 30, remainder: remainder), totalMinor: 10_000, planID: "pln_x")
        #expect(items.map(\.amountMinor) == (remainder == .first ? [3_334, 3_333, 3_333] : [3_333, 3_333, 3_334]))
        #expect(items.map { ExportPeriod.day($0.dueOn) } == ["2026-12-01", "2026-12-31", "2027-01-30"])
        #expect(items.map(\.reference) == ["pln_x-1", "pln_x-2", "pln_x-3"])
    }

    @Test func randomSchedulesAlwaysAddUpExactly() throws {
        for _ in 0..<500 {
            let total = Int64.random(in: 1...10_000_000)
            let count = Int.random(in: 1...min(120, Int(total)))
            let items = try PlanRules.schedule(
                .even(count: count, firstDue: Self.day0, intervalDays: Int.random(in: 1...60), remainder: Bool.random() ? .first : .last), totalMinor: total,
                planID: "p")
            #expect(items.reduce(0) { $0 + $1.amountMinor } == total)
            #expect(Set(items.map(\.amountMinor)).count <= 2 && items.allSatisfy { $0.amountMinor > 0 })
        }
    }

    @Test func explicitSchedulesMustCoverTheTotalInOrder() {
        let later = Self.day0.addingTimeInterval(86_400)
        #expect(throws: PlanRefusal.mustCover(expectedMinor: 1_000, offeredMinor: 900)) {
            try PlanRules.schedule(.explicit([(Self.day0, Int64(400)), (later, Int64(500))]), totalMinor: 1_000, planID: "p")
        }
        let sorted = try? PlanRules.schedule(.explicit([(later, Int64(600)), (Self.day0, Int64(400))]), totalMinor: 1_000, planID: "p")
        #expect(sorted?.map(\.amountMinor) == [400, 600], "numbered in due order")
        #expect(throws: PlanRefusal.tooSmall(totalMinor: 2, count: 3)) {
            try PlanRules.schedule(.even(count: 3, firstDue: Self.day0, intervalDays: 7, remainder: .first), totalMinor: 2, planID: "p")
        }
    }

    static func plan() throws -> PaymentPlan {
        let installments = try PlanRules.schedule(.even(count: 3, firstDue: day0, intervalDays: 30, remainder: .first), totalMinor: 9_000, planID: "pln_a")
        return PaymentPlan(
            id: "pln_a", invoiceID: nil, customerRef: "cus_1", customerProvider: .internal, currency: usd, totalMinor: 9_000, status: .active, replacesPlanID: nil,
            reason: nil, createdAt: day0, createdBy: "fay", installments: installments)
    }

    @Test func renegotiationKeepsTheOldInstallmentsAndCoversExactlyWhatIsOpen() throws {
        let paid = try PlanRules.markPaid(try Self.plan(), number: 1, payment: nil, by: "fay", note: "cash", at: Self.day0)
        #expect(paid.openMinor == 6_000 && paid.status == .active)
        #expect(throws: PlanRefusal.mustCover(expectedMinor: 6_000, offeredMinor: 5_000)) {
            try PlanRules.renegotiate(paid, schedule: .explicit([(Self.day0, Int64(5_000))]), newPlanID: "pln_b", reason: "hardship", by: "fay", now: Self.day0)
        }
        let (old, new) = try PlanRules.renegotiate(
            paid, schedule: .even(count: 4, firstDue: Self.day0, intervalDays: 14, remainder: .last), newPlanID: "pln_b", reason: "hardship", by: "fay", now: Self.day0)
        #expect(old.status == .renegotiated && old.installments.map(\.status) == [.paid, .renegotiated, .renegotiated])
        #expect(new.totalMinor == 6_000 && new.replacesPlanID == "pln_a" && new.installments.count == 4)
        #expect(throws: PlanRefusal.notActive(.renegotiated)) {
            try PlanRules.renegotiate(old, schedule: .explicit([(Self.day0, Int64(6_000))]), newPlanID: "pln_c", reason: "again", by: "fay", now: Self.day0)
        }
        #expect(throws: PlanRefusal.notOpen(number: 1, status: .paid)) { try PlanRules.markPaid(paid, number: 1, payment: nil, by: "f", note: nil, at: Self.day0) }
    }

    @Test(arguments: [(0, nil), (3, nil), (4, 3), (7, 3), (8, 7), (15, 14), (31, 30), (400, 30)] as [(Int, Int?)])
    func remindersGoOutPastEachStep(daysLate: Int, step: Int?) {
        #expect(PlanRules.reminderStep(daysLate: daysLate) == step)
    }

    @Test func receivablesAreAgedAndRankedByAmountTimesDays() {
        let now = Self.day0
        func item(_ customer: String, _ minor: Int64, daysLate: Int) -> ReceivablesReport.Item {
            ReceivablesReport.Item(customerRef: customer, currency: Self.usd, amountMinor: minor, dueAt: now.addingTimeInterval(-Double(daysLate) * 86_400), isInstallment: false)
        }
        let report = ReceivablesReport(
            items: [item("a", 1_000, daysLate: -5), item("b", 500, daysLate: 10), item("c", 200, daysLate: 45), item("c", 100, daysLate: 70), item("d", 50, daysLate: 200)],
            now: now)
        let usd = report.aging.first
        #expect(usd?.byBucket[.current] == 1_000 && usd?.byBucket[.days1to30] == 500 && usd?.byBucket[.days31to60] == 200)
        #expect(usd?.byBucket[.days61to90] == 100 && usd?.byBucket[.days90plus] == 50 && usd?.totalMinor == 1_850)
        // c: 300 × 70 = 21000; d: 50 × 200 = 10000; b: 500 × 10 = 5000; a is not overdue.
        #expect(report.priority.map(\.customerRef) == ["c", "d", "b"])
        #expect(report.priority.first?.score == 21_000 && report.priority.first?.items == 2)
    }
}

/// Plans on PostgreSQL through the router and the inbox.
@Suite("Payment plans on PostgreSQL", .enabled(if: TestDatabase.enabled), .serialized)
struct PlanIntegrationTests {
    static let acme = FinanceIntegrationTests.acme

    @Test func aPlanIsPaidByReferenceRemindedWhenOverdueAndRenegotiated() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("plans"), migrations: try TestService.migrations(of: .finance)) { client, schema in
            let clock = InvoiceIntegrationTests.Clock()
            let definition = InvoiceIntegrationTests.definition(clock: clock)
            let inbox = try TestService.inbox(for: definition, client: client, schema: schema)
            try await inbox.apply([try TestEvents.message(try InvoiceIntegrationTests.order("evt_o1"), offset: 0)])
            let invoice = try #require(
                try await client.withTenantTransaction(Self.acme, logger: TestDatabase.logger) { connection in
                    try await InvoiceStore(schema: schema, connection: connection, logger: TestDatabase.logger).invoice(orderID: "ord_1")
                })
            let router = try TestService.router(for: definition, client: client, schema: schema)
            let finance = TestService.tokens.issue(subject: "fay", org: Self.acme.rawValue, role: .finance)
            let viewer = TestService.tokens.issue(subject: "vic", org: Self.acme.rawValue, role: .viewer)
            let today = ExportPeriod.day(clock.now())
            try await Application(router: router).test(.router) { http in
                func call(_ method: HTTPRequest.Method, _ path: String, _ token: String, _ body: String? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                    try await http.execute(
                        uri: "/admin/orgs/\(Self.acme)/\(path)", method: method, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                        body: body.map { ByteBuffer(string: $0) }
                    ) { ($0.status, (try? JSONSerialization.jsonObject(with: Data(buffer: $0.body)) as? [String: Any]) ?? [:]) }
                }
                let schedule = #"{"count":3,"first_due_on":"\#(today)","interval_days":10,"remainder_on":"last"}"#
                #expect(try await call(.post, "plans", viewer, #"{"invoice_id":"\#(invoice.id)","schedule":\#(schedule)}"#).0 == .forbidden)
                #expect(try await call(.post, "plans", finance, #"{"invoice_id":"\#(invoice.id)","schedule":{"count":0,"first_due_on":"\#(today)"}}"#).0 == .badRequest)
                let nested = try await call(
                    .post, "plans", finance, #"{"invoice_id":"\#(invoice.id)","schedule":{"installments":[{"due_on":"\#(today)","amount_minor":11900,"extra":1}]}}"#)
                #expect(nested.0 == .badRequest && (nested.1["detail"] as? String ?? "").contains("extra"), "an unknown member anywhere is refused: \(nested.1)")
                let created = try await call(.post, "plans", finance, #"{"invoice_id":"\#(invoice.id)","schedule":\#(schedule),"reason":"asked by phone"}"#)
                #expect(created.0 == .created, "\(created.1)")
                let plan = try #require(created.1["id"] as? String)
                let installments = try #require(created.1["installments"] as? [[String: Any]])
                #expect(installments.compactMap { $0["amount_minor"] as? Int } == [3_966, 3_966, 3_968], "11900 in three, the remainder last")
                #expect(
                    try await call(.post, "plans", finance, #"{"invoice_id":"\#(invoice.id)","schedule":\#(schedule)}"#).1["type"] as? String
                        == "https://tally.dev/problems/invoice-has-plan")
                let voided = try await call(.post, "invoices/\(invoice.id)/void", finance, #"{"reason":"order canceled"}"#)
                #expect(voided.0 == .conflict && voided.1["type"] as? String == "https://tally.dev/problems/invoice-has-plan", "a plan still collects it: \(voided.1)")

                // The first installment is paid by a capture quoting its reference.
                try await inbox.apply([
                    try TestEvents.message(try InvoiceIntegrationTests.captured("evt_c1", payment: "pi_i1", minor: 3_966, order: "\(plan)-1"), offset: 1)
                ])
                let afterPayment = try await call(.get, "plans/\(plan)", viewer)
                #expect((afterPayment.1["installments"] as? [[String: Any]])?.first?["status"] as? String == "paid", "\(afterPayment.1)")
                let partial = try await call(.get, "invoices/\(invoice.id)", viewer)
                #expect(partial.1["status"] as? String == "partial" && partial.1["paid_minor"] as? Int == 3_966, "the plan's invoice took the payment: \(partial.1)")

                // Fifteen days later the second one (due on day 10) is 5 days late.
                clock.advance(days: 15)
                let overdue = try await call(.get, "installments/overdue?min_days=3", viewer)
                let rows = try #require(overdue.1["installments"] as? [[String: Any]])
                #expect(rows.count == 1 && rows.first?["number"] as? Int == 2 && rows.first?["days_late"] as? Int == 5, "\(overdue.1)")
                let job = InstallmentReminderJob(client: client, schema: schema, logger: TestDatabase.logger)
                #expect(try await job.run(now: clock.now(), org: nil).processed == 1)
                #expect(try await job.run(now: clock.now(), org: nil).processed == 0, "one reminder per installment and step")

                let receivables = try await call(.get, "receivables", viewer)
                let aging = try #require((receivables.1["aging"] as? [[String: Any]])?.first)
                #expect(aging["days_1_30_minor"] as? Int == 3_966 && aging["current_minor"] as? Int == 3_968, "\(receivables.1)")
                #expect((receivables.1["priority"] as? [[String: Any]])?.first?["customer_ref"] as? String == "cus_1")

                let short = try await call(
                    .post, "plans/\(plan)/renegotiate", finance, #"{"reason":"lost job","schedule":{"installments":[{"due_on":"2027-02-01","amount_minor":100}]}}"#)
                #expect(short.0 == .conflict && short.1["type"] as? String == "https://tally.dev/problems/schedule-must-cover", "\(short.1)")
                let renegotiated = try await call(
                    .post, "plans/\(plan)/renegotiate", finance,
                    #"{"reason":"lost job","schedule":{"installments":[{"due_on":"2027-02-01","amount_minor":4000},{"due_on":"2027-03-01","amount_minor":3934}]}}"#)
                #expect(renegotiated.0 == .ok, "\(renegotiated.1)")
                let old = try #require(renegotiated.1["renegotiated"] as? [String: Any])
                #expect((old["installments"] as? [[String: Any]])?.compactMap { $0["status"] as? String } == ["paid", "renegotiated", "renegotiated"])
                let new = try #require(renegotiated.1["plan"] as? [String: Any])
                #expect(new["total_minor"] as? Int == 7_934 && new["replaces_plan_id"] as? String == plan)
                let newID = try #require(new["id"] as? String)
                let marked = try await call(.post, "plans/\(newID)/installments/1/mark-paid", finance, #"{"note":"bank transfer seen"}"#)
                #expect(marked.0 == .ok && (marked.1["installments"] as? [[String: Any]])?.first?["paid_by"] as? String == "fay", "\(marked.1)")
                #expect(try await call(.post, "plans/\(newID)/installments/1/mark-paid", finance, #"{"note":"again"}"#).0 == .conflict)
                // Money marked received is a manual receipt on the plan's invoice (still overdue: past due,
                // not covered); paying the plan in
                // full leaves nothing owed, and a reconcile from the ledger agrees.
                let afterMark = try await call(.get, "invoices/\(invoice.id)", viewer)
                #expect(afterMark.1["paid_minor"] as? Int == 7_966 && afterMark.1["status"] as? String == "overdue", "\(afterMark.1)")
                #expect(
                    (afterMark.1["payments"] as? [[String: Any]])?.compactMap { $0["provider"] as? String }.sorted() == ["manual", "stripe"], "\(afterMark.1)")
                #expect(try await call(.post, "plans/\(newID)/installments/2/mark-paid", finance, #"{"note":"cash at the desk"}"#).0 == .ok)
                let settled = try await call(.get, "invoices/\(invoice.id)", viewer)
                #expect(settled.1["status"] as? String == "paid" && settled.1["outstanding_minor"] as? Int == 0, "\(settled.1)")
                let owed = try await call(.get, "receivables", viewer)
                #expect((owed.1["priority"] as? [[String: Any]])?.isEmpty == true, "a plan paid in full leaves nothing owed: \(owed.1)")
                let reconciled = try await call(.post, "invoices/\(invoice.id)/reconcile", finance, "{}")
                #expect(reconciled.0 == .ok && reconciled.1["changed"] as? Bool == false, "the ledger holds the manual receipts: \(reconciled.1)")
            }
            let actions = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings(PostgresQuery(unsafeSQL: "SELECT action FROM \(schema.name).audit_log ORDER BY id"))
            }
            #expect(actions == ["plan.create", "plan.renegotiate", "installment.mark_paid", "installment.mark_paid", "invoice.reconcile"])
            let reminders = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings(PostgresQuery(unsafeSQL: "SELECT message_key FROM \(schema.name).outbox WHERE topic = 'tally.notifications.requests.v1'"))
            }
            #expect(reminders.count == 1 && reminders[0].hasPrefix("installment-overdue:") && reminders[0].hasSuffix(":2:3"), "\(reminders)")
        }
    }
}
