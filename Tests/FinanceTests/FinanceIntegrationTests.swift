import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Kafka
import PostgresNIO
import ServiceRuntime
import Storage
import Synchronization
import TallyTestSupport
import Testing

@testable import Finance

/// The ledger on real PostgreSQL: what the database itself refuses, the inbox end to end, the
/// refund desk through the router (roles, four eyes, concurrent requests).
@Suite("Finance on PostgreSQL", .enabled(if: TestDatabase.enabled), .serialized)
struct FinanceIntegrationTests {
    static let acme = TenantID(rawValue: "org_fin_acme")!
    static let globex = TenantID(rawValue: "org_fin_globex")!

    func withFinance(_ body: @Sendable (PostgresClient, ServiceSchema) async throws -> Void) async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("finance"), migrations: try TestService.migrations(of: .finance)) { client, schema in
            do {
                try await body(client, schema)
            } catch {
                Issue.record("\(String(reflecting: error))")
            }
        }
    }

    static func definition() -> ServiceDefinition {
        FinanceService.definition(settings: FinanceSettings(), refunds: ProviderRefundClients(stripe: nil))
    }

    /// Canonical events for `acme`, as the normalizer publishes them.
    static func captured(_ id: String, payment: String = "pi_A", minor: Int64 = 10_000, fee: Int64? = nil) throws -> EventEnvelope<PaymentCaptured> {
        try TestEvents.fixture(PaymentCaptured.self) { event in
            event.id = id
            event.tenant = acme.rawValue
            event.data.origin.provider = .stripe
            event.data.paymentID = payment
            event.data.amount = Books.usd(minor)
            event.data.fee = fee.map(Books.usd)
        }
    }

    static func refunded(_ id: String, payment: String = "pi_A", refund: String, minor: Int64) throws -> EventEnvelope<PaymentRefunded> {
        try TestEvents.fixture(PaymentRefunded.self) { event in
            event.id = id
            event.tenant = acme.rawValue
            event.data.origin.provider = .stripe
            event.data.paymentID = payment
            event.data.refundID = refund
            event.data.amount = Books.usd(minor)
        }
    }

    static func payout(_ id: String, payout: String, minor: Int64) throws -> EventEnvelope<PayoutPaid> {
        try TestEvents.fixture(PayoutPaid.self) { event in
            event.id = id
            event.tenant = acme.rawValue
            event.data.origin.provider = .stripe
            event.data.payoutID = payout
            event.data.amount = Books.usd(minor)
            event.data.fees = nil
        }
    }

    @Test func theInboxPostsEachFactOnceHoldsARefundBeforeItsCaptureAndVerifies() async throws {
        try await withFinance { client, schema in
            let inbox = try TestService.inbox(for: Self.definition(), client: client, schema: schema)
            let batch = [
                try TestEvents.message(try Self.refunded("evt_r1", refund: "re_1", minor: 3_000), offset: 0),
                try TestEvents.message(try Self.captured("evt_c1", fee: 320), offset: 1),
                try TestEvents.message(try Self.captured("evt_c1_again", fee: 320), offset: 2),
                try TestEvents.message(try Self.refunded("evt_r2", refund: "re_2", minor: 8_000), offset: 3),
                try TestEvents.message(try Self.payout("evt_p1", payout: "po_1", minor: 5_000), offset: 4),
            ]
            try await inbox.apply(batch)
            try await inbox.apply(batch)  // a redelivery

            let queries = FinanceQueries(client: client, schema: schema, logger: TestDatabase.logger)
            let keys = try await queries.transactions(org: Self.acme, after: 0, limit: 50).map(\.key)
            #expect(keys == ["stripe:pi_A:capture", "stripe:re_1:refund", "stripe:po_1:payout"], "the held refund posts right after its capture")
            let balances = try await queries.balances(org: Self.acme, asOf: nil).map { "\($0.account) \($0.balanceMinor)" }
            #expect(
                balances == [
                    "assets:bank:stripe 5000", "expenses:provider_fees 320", "expenses:refunds 3000", "income:revenue -10000", "provider:stripe:clearing 1680",
                ])
            let conflicts = try await queries.conflicts(org: Self.acme, status: "open", after: 0, limit: 10)
            #expect(conflicts.map(\.conflict.code) == [.refundExceedsCapture])
            let verification = try await queries.verification(org: Self.acme, now: Date())
            #expect(verification.ok, "\(verification.firstFailure?.detail ?? "")")
            #expect(try await queries.balances(org: Self.globex, asOf: nil).isEmpty, "another org sees nothing")

            let payment = try #require(try await queries.payment(org: Self.acme, PaymentKey(provider: .stripe, paymentID: "pi_A")))
            #expect(payment.record.status == .partiallyRefunded && payment.record.refundedMinor == 3_000)
            #expect(payment.timeline.map(\.eventID) == ["evt_r1", "evt_c1", "evt_c1_again", "evt_r2"])
            #expect(payment.timeline.first?.transactionID != nil, "the held refund's row names its transaction once posted")

            let admin = try TestDatabase.adminConfiguration()
            let published = try await TestDatabase.withClient(admin) { admin in
                try await admin.strings(PostgresQuery(unsafeSQL: "SELECT topic || ' ' || message_key FROM \(schema.name).outbox ORDER BY event_id"))
            }
            #expect(published == Array(repeating: "tally.finance.ledger-postings.v1 \(Self.acme)", count: 3), "one message per transaction, keyed by org")
        }
    }

    @Test func theDatabaseRefusesEditsDeletesAndUnbalancedTransactions() async throws {
        try await withFinance { client, schema in
            let inbox = try TestService.inbox(for: Self.definition(), client: client, schema: schema)
            try await inbox.apply([try TestEvents.message(try Self.captured("evt_c1"), offset: 0)])
            let s = schema.name
            for statement in ["UPDATE \(s).ledger_entries SET amount_minor = 1", "DELETE FROM \(s).ledger_transactions", "TRUNCATE \(s).ledger_entries"] {
                let refused = await #expect(throws: (any Error).self, "the service role may not: \(statement)") {
                    try await client.withTenantTransaction(Self.acme, logger: TestDatabase.logger) { connection in
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: TestDatabase.logger)
                    }
                }
                #expect(String(reflecting: refused).contains("permission denied"), "\(String(reflecting: refused))")
            }
            let admin = try TestDatabase.adminConfiguration()
            try await TestDatabase.withClient(admin) { admin in
                let refused = await #expect(throws: PSQLError.self, "even a superuser's UPDATE meets the trigger") {
                    try await admin.query(PostgresQuery(unsafeSQL: "UPDATE \(s).ledger_entries SET amount_minor = amount_minor"), logger: TestDatabase.logger)
                }
                #expect(String(reflecting: refused).contains("immutable"))
                // An unbalanced transaction fails at commit, written by hand around the service.
                let unbalanced = await #expect(throws: (any Error).self) {
                    try await admin.withTransaction(logger: TestDatabase.logger) { connection in
                        try await connection.query(
                            """
                            WITH t AS (INSERT INTO \(unescaped: s).ledger_transactions (org_id, sequence, key, kind, cause_event_id, cause_event_type, occurred_at, posted_at,
                                content_sha256, chain_sha256)
                              VALUES ('org_fin_acme', 99, 'hand:1', 'capture', 'x', 'x', now(), now(), repeat('0', 64), repeat('0', 64)) RETURNING id)
                            INSERT INTO \(unescaped: s).ledger_entries (transaction_id, line, org_id, account, currency, amount_minor, sequence, posted_at)
                            SELECT id, l, 'org_fin_acme', 'income:revenue', 'USD', a, 99, now() FROM t, (VALUES (0, 100), (1, -99)) AS v(l, a)
                            """, logger: TestDatabase.logger)
                    }
                }
                #expect(String(reflecting: unbalanced).contains("does not balance"))
                // Tampering behind the service's back (triggers off, as the table's owner or a superuser can) is caught by the chain.
                try await admin.query(PostgresQuery(unsafeSQL: "ALTER TABLE \(s).ledger_transactions DISABLE TRIGGER ledger_transactions_immutable"), logger: TestDatabase.logger)
                try await admin.query(PostgresQuery(unsafeSQL: "UPDATE \(s).ledger_transactions SET occurred_at = occurred_at - interval '1 day'"), logger: TestDatabase.logger)
            }
            let verification = try await FinanceQueries(client: client, schema: schema, logger: TestDatabase.logger).verification(org: Self.acme, now: Date())
            #expect(verification.firstFailure?.name == "hash_chain_intact")
        }
    }

    @Test func refundRequestsNeedASecondPersonAndNeverTogetherExceedTheCapture() async throws {
        try await withFinance { client, schema in
            let inbox = try TestService.inbox(for: Self.definition(), client: client, schema: schema)
            try await inbox.apply([try TestEvents.message(try Self.captured("evt_c1", minor: 10_000), offset: 0)])
            let router = try TestService.router(for: Self.definition(), client: client, schema: schema)
            let support = TestService.tokens.issue(subject: "sam", org: Self.acme.rawValue, role: .support)
            let finance = TestService.tokens.issue(subject: "fay", org: Self.acme.rawValue, role: .finance)
            let samAsFinance = TestService.tokens.issue(subject: "sam", org: Self.acme.rawValue, role: .finance)
            let viewer = TestService.tokens.issue(subject: "vic", org: Self.acme.rawValue, role: .viewer)
            try await Application(router: router).test(.router) { http in
                func call(_ method: HTTPRequest.Method, _ path: String, _ token: String, _ body: String? = nil) async throws -> (HTTPResponse.Status, String) {
                    try await http.execute(
                        uri: "/admin/orgs/\(Self.acme)/\(path)", method: method, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                        body: body.map { ByteBuffer(string: $0) }
                    ) { ($0.status, String(buffer: $0.body)) }
                }
                #expect(try await call(.post, "refunds", viewer, #"{"payment_id":"pi_A","reason":"x"}"#).0 == .forbidden)
                #expect(try await call(.post, "refunds", support, #"{"payment_id":"pi_A","reason":""}"#).1.contains("reason"))
                #expect(try await call(.post, "refunds", support, #"{"payment_id":"pi_A","reason":"x","amount_minor":0}"#).0 == .badRequest)
                #expect(try await call(.post, "refunds", support, #"{"payment_id":"pi_A","reason":"x","extra":1}"#).1.contains("extra"))
                #expect(try await call(.post, "refunds", support, #"{"payment_id":"pi_none","reason":"x"}"#).0 == .notFound)
                #expect(try await call(.post, "refunds", support, #"{"payment_id":"pi_A","reason":"x","amount_minor":10001}"#).0 == .unprocessableContent)

                // Eight people ask for 3000 each at once: at most three fit into 10000.
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for index in 0..<8 {
                        group.addTask { try await call(.post, "refunds", support, #"{"payment_id":"pi_A","amount_minor":3000,"reason":"batch \#(index)"}"#).0 }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.filter { $0 == .created }.count == 3)
                #expect(statuses.filter { $0 == .unprocessableContent }.count == 5)

                let listed = try await call(.get, "refunds?status=pending_approval", viewer)
                let id = try #require(listed.1.firstMatch(of: /"id":"(rfr_[0-9a-f]+)"/).map { String($0.1) })
                #expect(try await call(.post, "refunds/\(id)/approve", support).0 == .forbidden, "support may not approve")
                let own = try await call(.post, "refunds/\(id)/approve", samAsFinance)
                #expect(own.0 == .forbidden && own.1.contains("self-approval"), "the requester cannot approve their own")
                let approved = try await call(.post, "refunds/\(id)/approve", finance)
                #expect(approved.0 == .ok && approved.1.contains(#""status":"offline""#), "\(approved.1)")
                #expect(try await call(.post, "refunds/\(id)/reject", finance).0 == .conflict, "decided already")
                let pending = try await call(.get, "refunds?status=pending_approval", viewer)
                let other = try #require(pending.1.firstMatch(of: /"id":"(rfr_[0-9a-f]+)"/).map { String($0.1) })
                let withdrawn = try await call(.post, "refunds/\(other)/reject", samAsFinance, #"{"reason":"asked by mistake"}"#)
                #expect(withdrawn.0 == .ok && withdrawn.1.contains(#""status":"rejected""#), "the requester may withdraw their own: \(withdrawn.1)")
                let replay = try await call(.post, "refunds/replay-offline", finance)
                #expect(replay.0 == .ok && replay.1.contains(#""still_offline":1"#), "\(replay.1)")
            }
            let actions = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings(PostgresQuery(unsafeSQL: "SELECT action || ' ' || actor FROM \(schema.name).audit_log ORDER BY id"))
            }
            #expect(actions.filter { $0 == "refund.request sam" }.count == 3)
            #expect(actions.contains("refund.approve fay") && actions.contains("refund.submit fay"))
        }
    }

    @Test func theJournalBalancesAndTheStatementRunsTheBalance() async throws {
        try await withFinance { client, schema in
            let inbox = try TestService.inbox(for: Self.definition(), client: client, schema: schema)
            try await inbox.apply([
                try TestEvents.message(try Self.captured("evt_c1", minor: 10_000), offset: 0),
                try TestEvents.message(try Self.refunded("evt_r1", refund: "re_1", minor: 2_500), offset: 1),
                try TestEvents.message(try Self.payout("evt_p1", payout: "po_1", minor: 7_000), offset: 2),
            ])
            let queries = FinanceQueries(client: client, schema: schema, logger: TestDatabase.logger)
            let (opening, lines) = try #require(
                try await queries.statement(org: Self.acme, account: "provider:stripe:clearing", currency: Books.usd, from: nil, to: nil, after: 1, limit: 10))
            #expect(try await queries.statement(org: Self.acme, account: "assets:bank:paddle", currency: Books.usd, from: nil, to: nil, after: 0, limit: 10) == nil)
            #expect(opening == 10_000, "the balance before the page")
            #expect(lines.map(\.amountMinor) == [-2_500, -7_000])
            let journal = try await queries.journal(org: Self.acme, from: nil, to: nil, now: Date())
            #expect(journal.contains("account provider:stripe:clearing  ; type: A"))
            #expect(journal.contains("    provider:stripe:clearing    0.00 USD = 5.00 USD"), "\(journal)")
        }
    }
}

@Suite("Finance OpenAPI document")
struct FinanceOpenAPITests {
    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationExists() throws {
        let documented = try OpenAPIAgreement.documentedOperations(of: .finance)
        let routed = try OpenAPIAgreement.routedOperations(of: FinanceIntegrationTests.definition())
        #expect(documented.contains("POST /admin/orgs/{org}/refunds/{id}/approve"))
        #expect(routed == documented, "routed only: \(routed.subtracting(documented).sorted()); documented only: \(documented.subtracting(routed).sorted())")
    }
}
