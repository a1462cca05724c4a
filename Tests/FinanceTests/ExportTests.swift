import Contracts
import Crypto
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

/// The CSV rules as plain functions.
@Suite("Accounting export format")
struct CSVFormatTests {
    @Test(arguments: [
        ("plain", "plain"), ("a,b", "\"a,b\""), ("say \"hi\"", "\"say \"\"hi\"\"\""), ("two\nlines", "\"two\nlines\""), ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("=HYPERLINK(\"x\",\"y\")", "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""), ("", ""),
        ("Zoë 🧾", "Zoë 🧾"),
    ])
    func textCellsAreQuotedAndNeutralised(text: String, written: String) {
        #expect(CSVFormat.field(.text(text)) == written)
    }

    @Test func numbersAndTimesAreWrittenAsTheyAre() {
        #expect(CSVFormat.field(.number(-1_500)) == "-1500", "a number is never neutralised")
        #expect(CSVFormat.field(.time(nil)) == "")
        #expect(CSVFormat.field(.time(Date(timeIntervalSince1970: 0))) == "1970-01-01T00:00:00.000Z")
        #expect(CSVFormat.record([.text("a"), .number(1), .text(nil)]) == "a,1,\r\n")
    }

    @Test func periodsAreWholeUTCDays() throws {
        let now = try #require(RFC3339.parse("2026-03-01T00:30:00Z"))
        let previous = ExportPeriod.previousMonth(of: now)
        #expect(previous.label == "2026-02-01/2026-03-01")
        #expect(ExportPeriod.previousMonth(of: try #require(RFC3339.parse("2026-01-15T12:00:00Z"))).label == "2025-12-01/2026-01-01")
        #expect(ExportPeriod.parseDay("2026-02-29") == nil, "not a day")
        #expect(ExportPeriod.parseDay("2026-2-01") == nil)
        #expect(ExportPeriod.parseDay("2026-02-28").map(ExportPeriod.day) == "2026-02-28")
    }
}

/// The export on PostgreSQL through the router: rows from the stored snapshots, formula-looking
/// values made safe, the digest in the trailer, and the monthly job's stored copy.
@Suite("Accounting export on PostgreSQL", .enabled(if: TestDatabase.enabled), .serialized)
struct ExportIntegrationTests {
    static let acme = FinanceIntegrationTests.acme

    @Test func theAccountingFileHoldsEveryInvoiceAndCreditNoteSafelyAndItsDigest() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("exports"), migrations: try TestService.migrations(of: .finance)) { client, schema in
            let definition = InvoiceIntegrationTests.definition()
            let inbox = try TestService.inbox(for: definition, client: client, schema: schema)
            var order = try InvoiceIntegrationTests.order("evt_o1", order: "ord_1", customer: "=HYPERLINK(\"http://x\",\"pay\")")
            order.data.lines[0].description = "@SUM(1+1), \"quoted\"\nsecond line"
            try await inbox.apply([
                try TestEvents.message(order, offset: 0),
                try TestEvents.message(try InvoiceIntegrationTests.captured("evt_c1", payment: "pi_1", minor: 11_900, order: "ord_1"), offset: 1),
                try TestEvents.message(try FinanceIntegrationTests.refunded("evt_r1", payment: "pi_1", refund: "re_1", minor: 2_000), offset: 2),
                try TestEvents.message(try InvoiceIntegrationTests.order("evt_o2", order: "ord_2", customer: "+cus_2"), offset: 3),
            ])
            let router = try TestService.router(for: definition, client: client, schema: schema)
            let finance = TestService.tokens.issue(subject: "fay", org: Self.acme.rawValue, role: .finance)
            let support = TestService.tokens.issue(subject: "sam", org: Self.acme.rawValue, role: .support)
            let today = ExportPeriod.day(Date())
            let tomorrow = ExportPeriod.day(Date().addingTimeInterval(86_400))
            try await Application(router: router).test(.router) { http in
                func get(_ path: String, _ token: String) async throws -> TestResponse {
                    try await http.execute(uri: "/admin/orgs/\(Self.acme)/\(path)", method: .get, headers: [.authorization: "Bearer \(token)"]) { $0 }
                }
                #expect(try await get("exports/accounting.csv?from=\(today)&to=\(tomorrow)", support).status == .forbidden)
                #expect(try await get("exports/accounting.csv?from=\(tomorrow)&to=\(today)", finance).status == .badRequest)
                #expect(try await get("exports/accounting.csv?from=\(today)", finance).status == .badRequest)
                #expect(try await get("exports/ledger.csv?from=\(today)&to=\(tomorrow)", finance).status == .notFound)
                #expect(try await get("exports/accounting.csv?from=\(today)&to=\(tomorrow)&status=paid,bogus", finance).status == .badRequest)
                let listing = try await http.execute(
                    uri: "/admin/orgs/\(Self.acme)/invoices", method: .get, headers: [.authorization: "Bearer \(finance)"]
                ) { Data(buffer: $0.body) }
                let invoices = (try JSONSerialization.jsonObject(with: listing) as? [String: Any])?["invoices"] as? [[String: Any]] ?? []
                let paidID = try #require(invoices.first { $0["order_id"] as? String == "ord_1" }?["id"] as? String)
                let credited = try await http.execute(
                    uri: "/admin/orgs/\(Self.acme)/invoices/\(paidID)/credit-notes", method: .post, headers: [.authorization: "Bearer \(finance)"]
                ) { $0.status }
                #expect(credited == .created)

                let response = try await get("exports/accounting.csv?from=\(today)&to=\(tomorrow)", finance)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/csv; charset=utf-8")
                #expect(response.headers[HTTPField.Name("X-Export-Period")!] == "\(today)/\(tomorrow)")
                let body = Array(response.body.readableBytesView)
                let digest = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
                #expect(response.trailerHeaders?[HTTPField.Name("X-Export-SHA256")!] == digest, "the trailer is the body's digest")
                #expect(response.trailerHeaders?[HTTPField.Name("X-Export-Rows")!] == "3", "two invoices and one credit note")
                let text = String(decoding: body, as: UTF8.self)
                let lines = text.components(separatedBy: "\r\n")
                #expect(lines.first == AccountingExport.columns(.accounting).joined(separator: ","))
                #expect(text.contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"pay\"\")\""), "the customer cell is quoted and neutralised")
                #expect(text.contains("\"'@SUM(1+1), \"\"quoted\"\"\nsecond line (+1 more)\""), "the description too")
                #expect(text.contains(",'+cus_2,"))
                #expect(text.contains(",credit_note,") || text.contains("\r\ncredit_note,"))
                #expect(text.contains(",11000,9000,900,11900,11900,0,1,"), "the paid invoice's snapshot, paid and outstanding")

                let onlyCredits = try await get("exports/accounting.csv?from=\(today)&to=\(tomorrow)&status=credited", finance)
                #expect(onlyCredits.trailerHeaders?[HTTPField.Name("X-Export-Rows")!] == "1")
                // A capture is dated by the provider's time (the fixture's, some days ago).
                let payments = try await get("exports/payments.csv?from=\(ExportPeriod.day(Date().addingTimeInterval(-300 * 86_400)))&to=\(tomorrow)", finance)
                #expect(String(buffer: payments.body).contains("stripe,pi_1,"), "\(String(buffer: payments.body))")
                let customers = try await get("exports/customers.csv?from=\(today)&to=\(tomorrow)", finance)
                #expect(customers.trailerHeaders?[HTTPField.Name("X-Export-Rows")!] == "2")
            }
        }
    }

    @Test func theMonthlyJobStoresEachFileOnceForThePreviousMonth() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("monthly"), migrations: try TestService.migrations(of: .finance)) { client, schema in
            let definition = InvoiceIntegrationTests.definition()
            let inbox = try TestService.inbox(for: definition, client: client, schema: schema)
            try await inbox.apply([try TestEvents.message(try InvoiceIntegrationTests.order("evt_o1"), offset: 0)])
            let job = MonthlyExportJob(client: client, schema: schema, logger: TestDatabase.logger)
            let nextMonth = Date().addingTimeInterval(32 * 86_400)
            #expect(try await job.run(now: nextMonth, org: nil).processed == 3, "accounting, payments and customers")
            #expect(try await job.run(now: nextMonth, org: nil).processed == 0, "once per period")
            let router = try TestService.router(for: definition, client: client, schema: schema)
            let finance = TestService.tokens.issue(subject: "fay", org: Self.acme.rawValue, role: .finance)
            try await Application(router: router).test(.router) { http in
                let listed = try await http.execute(uri: "/admin/orgs/\(Self.acme)/exports", method: .get, headers: [.authorization: "Bearer \(finance)"]) {
                    Data(buffer: $0.body)
                }
                let exports = (try JSONSerialization.jsonObject(with: listed) as? [String: Any])?["exports"] as? [[String: Any]] ?? []
                #expect(Set(exports.compactMap { $0["kind"] as? String }) == ["accounting", "payments", "customers"])
                let accounting = try #require(exports.first { $0["kind"] as? String == "accounting" })
                #expect(accounting["row_count"] as? Int == 1 && accounting["from"] as? String == ExportPeriod.day(ExportPeriod.previousMonth(of: nextMonth).from))
                let id = try #require(accounting["id"] as? String)
                let sha = try #require(accounting["sha256"] as? String)
                let file = try await http.execute(
                    uri: "/admin/orgs/\(Self.acme)/exports/stored/\(id).csv", method: .get, headers: [.authorization: "Bearer \(finance)"]
                ) { $0 }
                let digest = SHA256.hash(data: Array(file.body.readableBytesView)).map { String(format: "%02x", $0) }.joined()
                #expect(file.status == .ok && digest == sha, "the stored file is the one its digest names")
                #expect(file.headers[HTTPField.Name("X-Export-SHA256")!] == sha)
            }
        }
    }
}
