import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import ServiceRuntime
import Storage
import Synchronization
import TallyTestSupport
import Testing

@testable import Finance

/// Invoices on real PostgreSQL, through the inbox and the router: issue from an order and its
/// capture in either order, gapless numbers under concurrent issue, a snapshot that settings and
/// SQL cannot change, credit notes that never exceed, reconcile, the mismatch list and links.
@Suite("Invoices on PostgreSQL", .enabled(if: TestDatabase.enabled), .serialized)
struct InvoiceIntegrationTests {
    static let acme = FinanceIntegrationTests.acme
    static let usd = CurrencyCode(rawValue: "USD")!

    /// A clock the test moves.
    final class Clock: Sendable {
        let offset = Mutex<TimeInterval>(0)
        func now() -> Date { Date().addingTimeInterval(offset.withLock { $0 }) }
        func advance(days: Double) { offset.withLock { $0 += days * 86_400 } }
    }

    static func definition(clock: Clock = Clock()) -> ServiceDefinition {
        FinanceService.definition(settings: FinanceSettings(), refunds: ProviderRefundClients(stripe: nil), now: { clock.now() })
    }

    static func money(_ minor: Int64) -> Money { Money(amountMinor: minor, currency: usd) }

    /// An internal order: 2 × 45.00 at 10 % and 1 × 20.00 untaxed = 90.00 + 9.00 + 20.00 = 119.00.
    static func order(_ id: String, order: String = "ord_1", paymentRef: String? = nil, customer: String? = "cus_1") throws -> EventEnvelope<OrderPlaced> {
        try TestEvents.fixture(OrderPlaced.self) { event in
            event.id = id
            event.tenant = acme.rawValue
            event.data.orderID = order
            event.data.customerRef = customer
            event.data.paymentRef = paymentRef
            event.data.lines = [
                OrderLine(sku: "BOOK", description: "Ledger book", quantity: 2, unitPrice: money(4_500), taxRateBps: 1_000, tax: money(900), total: money(9_900)),
                OrderLine(sku: "SHIP", description: "Shipping", quantity: 1, unitPrice: money(2_000), taxRateBps: 0, tax: money(0), total: money(2_000)),
            ]
            event.data.subtotal = money(11_000)
            event.data.tax = money(900)
            event.data.total = money(11_900)
        }
    }

    static func captured(_ id: String, payment: String, minor: Int64, order: String?) throws -> EventEnvelope<PaymentCaptured> {
        try TestEvents.fixture(PaymentCaptured.self) { event in
            event.id = id
            event.tenant = acme.rawValue
            event.data.origin.provider = .stripe
            event.data.paymentID = payment
            event.data.amount = money(minor)
            event.data.fee = nil
            event.data.orderRef = order
            event.data.invoiceRef = nil
            event.data.subscriptionRef = nil
        }
    }

    func withInvoices(_ body: @Sendable (PostgresClient, ServiceSchema) async throws -> Void) async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("invoices"), migrations: try TestService.migrations(of: .finance)) { client, schema in
            do { try await body(client, schema) } catch { Issue.record("\(String(reflecting: error))") }
        }
    }

    func invoices(_ client: PostgresClient, _ schema: ServiceSchema) async throws -> [Invoice] {
        try await client.withTenantTransaction(Self.acme, logger: TestDatabase.logger) { connection in
            try await InvoiceStore(schema: schema, connection: connection, logger: TestDatabase.logger).invoices(where: "true", [], order: "i.number")
        }
    }

    func balances(_ client: PostgresClient, _ schema: ServiceSchema) async throws -> [String: Int64] {
        let queries = FinanceQueries(client: client, schema: schema, logger: TestDatabase.logger)
        return Dictionary(uniqueKeysWithValues: try await queries.balances(org: Self.acme, asOf: nil).map { ($0.account, $0.balanceMinor) })
    }

    @Test(arguments: [false, true])
    func anOrderAndItsCaptureMakeOnePaidInvoiceInEitherOrder(captureFirst: Bool) async throws {
        try await withInvoices { client, schema in
            let inbox = try TestService.inbox(for: Self.definition(), client: client, schema: schema)
            let order = try TestEvents.message(try Self.order("evt_o1"), offset: 0)
            let capture = try TestEvents.message(try Self.captured("evt_c1", payment: "pi_1", minor: 11_900, order: "ord_1"), offset: 1)
            try await inbox.apply(captureFirst ? [capture] : [order])
            try await inbox.apply(captureFirst ? [order] : [capture])
            try await inbox.apply([order, capture])  // redelivered: nothing new

            let issued = try await invoices(client, schema)
            try #require(issued.count == 1, "one invoice per order")
            let invoice = issued[0]
            #expect(invoice.number.wholeMatch(of: /INV-\d{8}-0001/) != nil, "\(invoice.number)")
            #expect(invoice.snapshot.subtotalMinor == 11_000 && invoice.snapshot.taxableSubtotalMinor == 9_000)
            #expect(invoice.snapshot.taxMinor == 900 && invoice.snapshot.totalMinor == 11_900 && invoice.snapshot.taxRateBasisBps == 1_000)
            #expect(invoice.status == .paid && invoice.paidMinor == 11_900 && invoice.outstandingMinor == 0)
            let books = try await balances(client, schema)
            #expect(books["assets:receivables"] == nil, "the receivable is settled: \(books)")
            #expect(books["income:revenue"] == -11_000 && books["liabilities:tax_payable"] == -900 && books["provider:stripe:clearing"] == 11_900)
            let verification = try await FinanceQueries(client: client, schema: schema, logger: TestDatabase.logger).verification(org: Self.acme, now: Date())
            #expect(verification.ok, "\(verification.firstFailure?.detail ?? "")")
        }
    }

    @Test func numbersAreGaplessAndUniqueUnderConcurrentIssue() async throws {
        try await withInvoices { client, schema in
            let inbox = try TestService.inbox(for: Self.definition(), client: client, schema: schema)
            let count = 24
            try await inbox.apply(
                try (0..<count).map { try TestEvents.message(try Self.captured("evt_c\($0)", payment: "pi_\($0)", minor: 1_000 + Int64($0), order: nil), offset: Int64($0)) })
            let router = try TestService.router(for: Self.definition(), client: client, schema: schema)
            let finance = TestService.tokens.issue(subject: "fay", org: Self.acme.rawValue, role: .finance)
            let statuses = try await Application(router: router).test(.router) { http in
                try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    // Each payment asked for twice at once: one issue, one answer with the same invoice.
                    for index in 0..<(count * 2) {
                        group.addTask {
                            try await http.execute(
                                uri: "/admin/orgs/\(Self.acme)/invoices", method: .post, headers: [.authorization: "Bearer \(finance)", .contentType: "application/json"],
                                body: ByteBuffer(string: #"{"payment_id":"pi_\#(index % count)","provider":"stripe"}"#)
                            ) { $0.status }
                        }
                    }
                    return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
                }
            }
            #expect(statuses.filter { $0 == .created }.count == count && statuses.filter { $0 == .ok }.count == count, "\(statuses)")
            let numbers = try await invoices(client, schema).map(\.number)
            let sequences = numbers.compactMap { Int($0.split(separator: "-").last ?? "") }.sorted()
            #expect(sequences == Array(1...count), "gapless from 1: \(numbers)")
            #expect(Set(numbers.map { $0.split(separator: "-")[1] }).count == 1, "one day")
        }
    }

    @Test func theSnapshotSurvivesSettingsChangesAndRefusesEdits() async throws {
        try await withInvoices { client, schema in
            let inbox = try TestService.inbox(for: Self.definition(), client: client, schema: schema)
            try await inbox.apply([try TestEvents.message(try Self.captured("evt_c1", payment: "pi_1", minor: 11_000, order: nil), offset: 0)])
            let router = try TestService.router(for: Self.definition(), client: client, schema: schema)
            let admin = TestService.tokens.issue(subject: "ada", org: Self.acme.rawValue, role: .admin)
            let viewer = TestService.tokens.issue(subject: "vic", org: Self.acme.rawValue, role: .viewer)
            try await Application(router: router).test(.router) { http in
                func call(_ method: HTTPRequest.Method, _ path: String, _ token: String, _ body: String? = nil) async throws -> (HTTPResponse.Status, String) {
                    try await http.execute(
                        uri: "/admin/orgs/\(Self.acme)/\(path)", method: method, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                        body: body.map { ByteBuffer(string: $0) }
                    ) { ($0.status, String(buffer: $0.body)) }
                }
                #expect(try await call(.put, "invoice-settings", viewer, #"{"tax_rate_bps":1000,"payment_terms_days":30}"#).0 == .forbidden)
                #expect(try await call(.put, "invoice-settings", admin, #"{"tax_rate_bps":10001,"payment_terms_days":30}"#).1.contains("tax_rate_bps"))
                #expect(try await call(.put, "invoice-settings", admin, #"{"tax_rate_bps":1000,"payment_terms_days":30}"#).0 == .ok)
                #expect(try await call(.post, "invoices", viewer, #"{"payment_id":"pi_1"}"#).0 == .forbidden)
                let first = try await call(.post, "invoices", admin, #"{"payment_id":"pi_1"}"#)
                #expect(first.0 == .created, "\(first.1)")
                #expect(first.1.contains(#""tax_minor":1000"#) && first.1.contains(#""subtotal_minor":10000"#), "11000 includes 10 %: \(first.1)")
                #expect(try await call(.put, "invoice-settings", admin, #"{"tax_rate_bps":2000,"payment_terms_days":30}"#).0 == .ok)
                let again = try await call(.post, "invoices", admin, #"{"payment_id":"pi_1"}"#)
                #expect(again.0 == .ok && again.1.contains(#""tax_minor":1000"#), "the same invoice, its snapshot as issued: \(again.1)")
                #expect(try await call(.post, "invoices", admin, #"{"payment_id":"pi_none"}"#).0 == .notFound)
            }
            let invoice = try #require(try await invoices(client, schema).first)
            #expect(invoice.snapshot.taxMinor == 1_000 && invoice.snapshot.taxRateBasisBps == 1_000)
            for statement in [
                "UPDATE \(schema.name).invoices SET tax_minor = 2000, total_minor = 12000", "UPDATE \(schema.name).invoice_lines SET tax_minor = 5",
                "UPDATE \(schema.name).invoices SET number = 'INV-20260101-0001'", "DELETE FROM \(schema.name).invoice_lines",
            ] {
                await #expect(throws: (any Error).self, "refused: \(statement)") {
                    try await client.withTenantTransaction(Self.acme, logger: TestDatabase.logger) { connection in
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: TestDatabase.logger)
                    }
                }
            }
            let actions = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings(PostgresQuery(unsafeSQL: "SELECT action || ' ' || actor FROM \(schema.name).audit_log ORDER BY id"))
            }
            #expect(actions == ["invoice_settings.update ada", "invoice.issue ada", "invoice_settings.update ada"])
        }
    }

    @Test func creditNotesFollowRefundsAndNeverExceedTheInvoiceUnderConcurrentRequests() async throws {
        try await withInvoices { client, schema in
            let inbox = try TestService.inbox(for: Self.definition(), client: client, schema: schema)
            try await inbox.apply([
                try TestEvents.message(try Self.order("evt_o1"), offset: 0),
                try TestEvents.message(try Self.captured("evt_c1", payment: "pi_1", minor: 11_900, order: "ord_1"), offset: 1),
                try TestEvents.message(try FinanceIntegrationTests.refunded("evt_r1", payment: "pi_1", refund: "re_1", minor: 7_000), offset: 2),
                try TestEvents.message(try FinanceIntegrationTests.refunded("evt_r2", payment: "pi_1", refund: "re_2", minor: 4_900), offset: 3),
            ])
            let invoice = try #require(try await invoices(client, schema).first)
            let router = try TestService.router(for: Self.definition(), client: client, schema: schema)
            let finance = TestService.tokens.issue(subject: "fay", org: Self.acme.rawValue, role: .finance)
            let support = TestService.tokens.issue(subject: "sam", org: Self.acme.rawValue, role: .support)
            try await Application(router: router).test(.router) { http in
                func call(_ token: String, _ body: String?) async throws -> (HTTPResponse.Status, String) {
                    try await http.execute(
                        uri: "/admin/orgs/\(Self.acme)/invoices/\(invoice.id)/credit-notes", method: .post,
                        headers: [.authorization: "Bearer \(token)", .contentType: "application/json"], body: body.map { ByteBuffer(string: $0) }
                    ) { ($0.status, String(buffer: $0.body)) }
                }
                #expect(try await call(support, nil).0 == .forbidden)
                // Four people credit the same invoice at once: the two refunds are credited once each.
                let answers = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String).self) { group in
                    for _ in 0..<4 { group.addTask { try await call(finance, #"{"reason":"refund"}"#) } }
                    return try await group.reduce(into: [(HTTPResponse.Status, String)]()) { $0.append($1) }
                }
                #expect(answers.filter { $0.0 == .created }.count == 2, "\(answers)")
                #expect(answers.filter { $0.0 == .conflict && $0.1.contains("no-refund-to-credit") }.count == 2)
            }
            let notes = try await client.withTenantTransaction(Self.acme, logger: TestDatabase.logger) { connection in
                try await InvoiceStore(schema: schema, connection: connection, logger: TestDatabase.logger).creditNotes(of: invoice.id)
            }
            #expect(notes.map(\.number) == [invoice.number + "-CN", invoice.number + "-CN2"])
            #expect(notes.reduce(0) { $0 + $1.totalMinor } == 11_900)
            #expect(notes.reduce(0) { $0 + $1.taxMinor } == 900 && notes.reduce(0) { $0 + $1.netMinor } == 11_000, "fully credited to the unit")
            let books = try await balances(client, schema)
            #expect(books["income:revenue"] == nil && books["liabilities:tax_payable"] == nil && books["expenses:refunds"] == nil, "\(books)")
            let verification = try await FinanceQueries(client: client, schema: schema, logger: TestDatabase.logger).verification(org: Self.acme, now: Date())
            #expect(verification.ok, "\(verification.firstFailure?.detail ?? "")")
        }
    }

    @Test func reconcileRepairsATamperedStatusOnceAndTheMismatchListShowsIt() async throws {
        try await withInvoices { client, schema in
            let clock = Clock()
            let inbox = try TestService.inbox(for: Self.definition(clock: clock), client: client, schema: schema)
            try await inbox.apply([
                try TestEvents.message(try Self.order("evt_o1", order: "ord_1"), offset: 0),
                try TestEvents.message(try Self.order("evt_o2", order: "ord_2"), offset: 1),
                try TestEvents.message(try Self.captured("evt_c2", payment: "pi_2", minor: 5_000, order: "ord_2"), offset: 2),
            ])
            let listed = try await invoices(client, schema)
            let unpaid = try #require(listed.first { if case .order("ord_1", _) = $0.source { true } else { false } })
            let partial = try #require(listed.first { if case .order("ord_2", _) = $0.source { true } else { false } })
            #expect(unpaid.status == .issued && partial.status == .partial && partial.paidMinor == 5_000)
            try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.query(
                    PostgresQuery(unsafeSQL: "UPDATE \(schema.name).invoices SET status = 'paid', paid_minor = total_minor WHERE id = '\(unpaid.id)'"), logger: TestDatabase.logger)
            }
            let router = try TestService.router(for: Self.definition(clock: clock), client: client, schema: schema)
            let finance = TestService.tokens.issue(subject: "fay", org: Self.acme.rawValue, role: .finance)
            let viewer = TestService.tokens.issue(subject: "vic", org: Self.acme.rawValue, role: .viewer)
            try await Application(router: router).test(.router) { http in
                func call(_ method: HTTPRequest.Method, _ path: String, _ token: String) async throws -> (HTTPResponse.Status, String) {
                    try await http.execute(uri: "/admin/orgs/\(Self.acme)/\(path)", method: method, headers: [.authorization: "Bearer \(token)"]) {
                        ($0.status, String(buffer: $0.body).replacingOccurrences(of: "\\/", with: "/"))
                    }
                }
                let mismatches = try await call(.get, "reconcile/invoices", viewer)
                #expect(mismatches.0 == .ok && mismatches.1.contains(unpaid.id) && !mismatches.1.contains(partial.id), "\(mismatches.1)")
                #expect(mismatches.1.contains(#""expected_status":"issued""#) && mismatches.1.contains("/invoices/\(unpaid.id)/reconcile"))
                let all = try await call(.get, "reconcile/invoices?status=all", viewer)
                #expect(all.1.contains(unpaid.id) && all.1.contains(partial.id))
                #expect(try await call(.get, "reconcile/invoices?after=nope", viewer).0 == .badRequest)
                #expect(try await call(.post, "invoices/\(unpaid.id)/reconcile", viewer).0 == .forbidden)
                let repaired = try await call(.post, "invoices/\(unpaid.id)/reconcile", finance)
                #expect(repaired.0 == .ok && repaired.1.contains(#""changed":true"#) && repaired.1.contains(#""status":"issued""#), "\(repaired.1)")
                let repeated = try await call(.post, "invoices/\(unpaid.id)/reconcile", finance)
                #expect(repeated.1.contains(#""changed":false"#), "\(repeated.1)")
                #expect(try await call(.get, "reconcile/invoices", viewer).1.contains(#""invoices":[]"#))
                #expect(try await call(.post, "invoices/inv_00000000000000000000000000000000/reconcile", finance).0 == .notFound)

                // Past the due date, the overdue job marks both; a reconcile agrees.
                clock.advance(days: 15)
                let job = InvoiceOverdueJob(client: client, schema: schema, logger: TestDatabase.logger)
                #expect(try await job.run(now: clock.now(), org: nil).processed == 2)
                #expect(try await job.run(now: clock.now(), org: nil).processed == 0, "a repeat changes nothing")
                #expect(try await call(.post, "invoices/\(partial.id)/reconcile", finance).1.contains(#""changed":false"#))
            }
            #expect(try await invoices(client, schema).map(\.status) == [.overdue, .overdue])
            let audit = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings(PostgresQuery(unsafeSQL: "SELECT action || ' ' || before::text || ' ' || after::text FROM \(schema.name).audit_log ORDER BY id"))
            }
            #expect(audit.count == 3 && audit[0].hasPrefix("invoice.reconcile") && audit[0].contains(#""status": "paid""#) && audit[0].contains(#""status": "issued""#), "\(audit)")
        }
    }

    @Test func aSignedLinkOpensOnlyItsInvoiceUntilItExpires() async throws {
        try await withInvoices { client, schema in
            let clock = Clock()
            let inbox = try TestService.inbox(for: Self.definition(clock: clock), client: client, schema: schema)
            try await inbox.apply([
                try TestEvents.message(try Self.order("evt_o1", order: "ord_1"), offset: 0),
                try TestEvents.message(try Self.order("evt_o2", order: "ord_2", customer: nil), offset: 1),
            ])
            let listed = try await invoices(client, schema)
            let withCustomer = try #require(listed.first { $0.customerRef != nil })
            let anonymous = try #require(listed.first { $0.customerRef == nil })
            let router = try TestService.router(for: Self.definition(clock: clock), client: client, schema: schema)
            let support = TestService.tokens.issue(subject: "sam", org: Self.acme.rawValue, role: .support)
            try await Application(router: router).test(.router) { http in
                func link(_ id: String, _ body: String?) async throws -> (HTTPResponse.Status, String) {
                    try await http.execute(
                        uri: "/admin/orgs/\(Self.acme)/invoices/\(id)/link", method: .post, headers: [.authorization: "Bearer \(support)", .contentType: "application/json"],
                        body: body.map { ByteBuffer(string: $0) }
                    ) { ($0.status, String(buffer: $0.body)) }
                }
                func open(_ url: String) async throws -> (HTTPResponse.Status, String) {
                    let path = String(url.dropFirst("http://127.0.0.1:8080".count))
                    return try await http.execute(uri: path, method: .get) { ($0.status, String(buffer: $0.body)) }
                }
                let sent = try await link(withCustomer.id, #"{"expires_in_hours":24}"#)
                #expect(sent.0 == .ok && sent.1.contains(#""sent":true"#), "\(sent.1)")
                let url = try #require(sent.1.firstMatch(of: /"url":"([^"]+)"/).map { String($0.1).replacingOccurrences(of: "\\/", with: "/") })
                let page = try await open(url)
                #expect(page.0 == .ok && page.1.contains(withCustomer.number) && page.1.contains("USD 119.00"), "\(page.0)")
                #expect(try await open(url.replacingOccurrences(of: withCustomer.id, with: anonymous.id)).0 == .forbidden, "the signature is for one invoice")
                #expect(try await open(url.replacingOccurrences(of: "signature=", with: "signature=0")).0 == .forbidden)
                #expect(try await open(url.replacingOccurrences(of: "org=\(Self.acme)", with: "org=org_other")).0 == .forbidden)
                #expect(try await link(anonymous.id, nil).0 == .conflict, "nobody to send to")
                #expect(try await link(anonymous.id, #"{"send":false}"#).1.contains(#""sent":false"#))
                #expect(try await link(withCustomer.id, #"{"expires_in_hours":0}"#).0 == .badRequest)
                clock.advance(days: 2)
                #expect(try await open(url).0 == .gone, "expired")
            }
            let requests = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings(PostgresQuery(unsafeSQL: "SELECT topic || ' ' || message_key FROM \(schema.name).outbox WHERE topic LIKE 'tally.notifications%'"))
            }
            #expect(requests.count == 1 && requests[0].hasPrefix("tally.notifications.requests.v1 invoice-link:\(withCustomer.id):"), "\(requests)")
        }
    }

    @Test func aPaymentInvoicedOnItsOwnIsNotInvoicedAgainByItsOrder() async throws {
        try await withInvoices { client, schema in
            let inbox = try TestService.inbox(for: Self.definition(), client: client, schema: schema)
            try await inbox.apply([try TestEvents.message(try Self.captured("evt_c1", payment: "pi_1", minor: 11_900, order: nil), offset: 0)])
            let issued = try await client.withTenantTransaction(Self.acme, logger: TestDatabase.logger) { connection in
                try await InvoiceDesk(schema: schema, logger: TestDatabase.logger, now: { Date() }).issue(
                    payment: PaymentKey(provider: .stripe, paymentID: "pi_1"),
                    cause: .init(tenant: Self.acme, eventID: "admin-1", eventType: "admin.invoice.issue", correlationID: "c", occurredAt: Date()), on: connection)
            }
            guard case .success(let first) = issued else { Issue.record("\(issued)"); return }
            try await inbox.apply([try TestEvents.message(try Self.order("evt_o1", paymentRef: "pi_1"), offset: 1)])
            let listed = try await invoices(client, schema)
            #expect(listed.map(\.id) == [first.invoice.id], "the order takes the payment's invoice, not a second one")
            let settlements = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings(PostgresQuery(unsafeSQL: "SELECT key FROM \(schema.name).ledger_transactions WHERE kind = 'invoice_settled'"))
            }
            #expect(settlements.count == 1, "one payment settles one invoice: \(settlements)")
        }
    }

    @Test func aCanceledOrderVoidsItsUnpaidInvoiceAndKeepsTheNumber() async throws {
        try await withInvoices { client, schema in
            let inbox = try TestService.inbox(for: Self.definition(), client: client, schema: schema)
            let canceled = try TestEvents.fixture(OrderCanceled.self) { event in
                event.id = "evt_x1"
                event.tenant = Self.acme.rawValue
                event.data.orderID = "ord_1"
            }
            try await inbox.apply([try TestEvents.message(try Self.order("evt_o1"), offset: 0), try TestEvents.message(canceled, offset: 1)])
            try await inbox.apply([try TestEvents.message(try Self.order("evt_o2", order: "ord_2"), offset: 2)])
            let listed = try await invoices(client, schema)
            #expect(listed.map(\.status) == [.void, .issued])
            #expect(listed.map { $0.number.suffix(4) } == ["0001", "0002"], "a void invoice keeps its number")
            let books = try await balances(client, schema)
            #expect(books["assets:receivables"] == 11_900, "only the second invoice is owed: \(books)")
        }
    }
}
