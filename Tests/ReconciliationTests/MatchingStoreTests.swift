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

@testable import Reconciliation

/// Matching and statements on real PostgreSQL: the SQL answers as the in-memory store does, the
/// inbox drives passes, and statement uploads are atomic and idempotent.
@Suite("Matching on PostgreSQL", .enabled(if: TestDatabase.enabled), .serialized)
struct MatchingStoreTests {
    static let acme = TenantID(rawValue: "org_acme")!

    func withReconciliation(_ body: @Sendable (PostgresClient, ServiceSchema) async throws -> Void) async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("recon"), migrations: try TestService.migrations(of: .reconciliation)) { client, schema in
            try await body(client, schema)
        }
    }

    /// Every scenario fact through the PostgreSQL store, in the scenario's order: the checks end
    /// as one evaluation of all the facts says (the same property the in-memory test shuffles).
    @Test func theScenarioEndsAsTheRulesSayOnPostgres() async throws {
        do { try await scenario() } catch { Issue.record("\(String(reflecting: error))") }
    }

    func scenario() async throws {
        try await withReconciliation { client, schema in
            try await client.withTenantTransaction(Self.acme, logger: TestDatabase.logger) { connection in
                let statements = StatementStore(schema: schema, connection: connection, logger: TestDatabase.logger)
                try await statements.save(ConfiguredBankAccount(account: Scenario.account, csvMapping: nil), now: Scenario.later)
            }
            for arrival in Scenario.arrivals {
                try await client.withTenantTransaction(Self.acme, logger: TestDatabase.logger) { connection in
                    let store = PostgresReconciliationStore(schema: schema, connection: connection, logger: TestDatabase.logger)
                    let seed = try await Scenario.record(arrival, in: store) { lines in
                        var line = lines[0]
                        line.statementID = "st_\(line.bankReference)"
                        try await StatementStore(schema: schema, connection: connection, logger: TestDatabase.logger).insert(
                            StoredStatement(
                                statementID: line.statementID, accountID: line.accountID, format: .csv, contentSHA256: line.bankReference, bankStatementRef: nil,
                                openingMinor: 0, closingMinor: 0, currency: Scenario.usd, lineCount: 1, newLineCount: 1, uploadedAt: Scenario.later, uploadedBy: "test"),
                            lines: [line])
                    }
                    do {
                        _ = try await MatchingPass(tenant: Self.acme, now: Scenario.later, correlationID: "corr", causationID: nil).run(around: [seed], store: store)
                    } catch {
                        Issue.record("\(arrival): \(String(reflecting: error))")
                        throw error
                    }
                }
            }
            let (checks, open, published) = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                (
                    try await admin.strings("SELECT check_key || ' ' || coalesce(reason, status) FROM \(unescaped: schema.name).checks ORDER BY check_key"),
                    try await admin.strings("SELECT check_key || ' ' || reason FROM \(unescaped: schema.name).discrepancies WHERE status = 'open' ORDER BY 1"),
                    try await admin.strings("SELECT DISTINCT topic || ' ' || message_key FROM \(unescaped: schema.name).outbox")
                )
            }
            let expected = Scenario.statuses(MatcherTests.all).map { "\($0.key) \($0.value)" }.sorted()
            #expect(checks == expected)
            let mismatched = Scenario.statuses(MatcherTests.all).filter { !["matched", "expected"].contains($0.value) }.map { "\($0.key) \($0.value)" }.sorted()
            #expect(open == mismatched)
            #expect(published == ["tally.reconciliation.v1 org_acme"])
        }
    }

    @Test func theInboxRecordsCapturesAndPublishesTheMatch() async throws {
        try await withReconciliation { client, schema in
            let inbox = try TestService.inbox(for: ReconciliationService.definition(now: { Scenario.later }), client: client, schema: schema)
            let order = try TestEvents.fixture(OrderPlaced.self)
            let payment = try TestEvents.fixture(PaymentCaptured.self)
            let batch = [try TestEvents.message(order, offset: 0), try TestEvents.message(payment, offset: 1)]
            try await inbox.apply(batch)
            try await inbox.apply(batch)  // a redelivery
            let (checks, events) = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                (
                    try await admin.strings("SELECT check_key || ' ' || status || ' r' || revision FROM \(unescaped: schema.name).checks ORDER BY check_key"),
                    try await admin.strings("SELECT headers ->> 'ce_type' FROM \(unescaped: schema.name).outbox ORDER BY id")
                )
            }
            #expect(
                checks == [
                    "order_payment:order:ord_7731 matched r2", "order_payment:payment:pi_3QAbcLkdIwHu7ix21vN3dPqR matched r1",
                    "payment_payout:payment:pi_3QAbcLkdIwHu7ix21vN3dPqR mismatched r1",
                ], "the order was expected, then matched; no payout in a week is a mismatch")
            #expect(events.filter { $0 == MatchRecorded.eventType }.count == 4, "one message per change, none for the redelivery")
            #expect(
                events.filter { $0 == DiscrepancyOpened.eventType }.count == 2 && events.filter { $0 == DiscrepancyResolved.eventType }.count == 1,
                "the order's window had passed: no payment opened, the payment resolved it; no payout in a week stays open")
        }
    }

    @Test func aStatementUploadIsAtomicAndIdempotent() async throws {
        try await withReconciliation { client, schema in
            let desk = StatementDesk(schema: schema, logger: TestDatabase.logger, now: { Scenario.later })
            let camt = try statementFile("camt053-usd.xml")
            func upload(_ bytes: [UInt8]) async throws -> Result<StatementDesk.Outcome, StatementDesk.Refusal> {
                try await client.withTenantTransaction(Self.acme, logger: TestDatabase.logger) { connection in
                    try await desk.upload(
                        StatementDesk.Upload(accountID: "acc_main", format: .camt053, bytes: bytes, actor: "fin", correlationID: "corr"), org: Self.acme, on: connection)
                }
            }
            #expect(try await upload(camt).failure == .unknownAccount("acc_main"))
            try await client.withTenantTransaction(Self.acme, logger: TestDatabase.logger) { connection in
                try await StatementStore(schema: schema, connection: connection, logger: TestDatabase.logger).save(
                    ConfiguredBankAccount(account: Scenario.account, csvMapping: StatementReaderTests.germanMapping), now: Scenario.later)
            }
            let unbalanced = Array(String(decoding: camt, as: UTF8.self).replacingOccurrences(of: "1074.99", with: "1075.00").utf8)
            #expect(try await upload(unbalanced).failure == .statement(.unbalanced(openingMinor: 100_000, linesMinor: 7_499, closingMinor: 107_500)))
            guard case .recorded(let stored, _) = try await upload(camt).get() else { throw Failure("expected the statement to be recorded") }
            #expect(stored.lineCount == 3 && stored.newLineCount == 3)
            guard case .alreadyUploaded(let again) = try await upload(camt).get() else { throw Failure("expected the same file to be recognised") }
            #expect(again.statementID == stored.statementID)
            let lines = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings(
                    "SELECT bank_reference || ' ' || amount_minor || ' ' || array_to_string(tokens, ',') FROM \(unescaped: schema.name).bank_lines ORDER BY bank_reference")
            }
            #expect(lines.count == 3, "\(lines)")
            #expect(lines.first?.contains("po_1qabhlkdiwhu7ix2tt5uv6wx") == true, "\(lines)")
        }
    }

    @Test func theWorkbenchListsOpenDiscrepanciesByReasonAndAge() async throws {
        try await withReconciliation { client, schema in
            let definition = ReconciliationService.definition(now: { Scenario.later })
            let inbox = try TestService.inbox(for: definition, client: client, schema: schema)
            try await inbox.apply([
                try TestEvents.message(try TestEvents.fixture(OrderPlaced.self), offset: 0), try TestEvents.message(try TestEvents.fixture(PaymentCaptured.self), offset: 1),
            ])
            let router = try TestService.router(for: definition, client: client, schema: schema)
            let viewer = TestService.tokens.issue(subject: "vi", org: "org_01J9Z3ACME", role: .viewer)
            let stranger = TestService.tokens.issue(subject: "gx", org: "org_globex", role: .viewer)
            try await Application(router: router).test(.router) { http in
                func get(_ uri: String, _ token: String? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
                    try await http.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(token ?? viewer)"]) { response in
                        (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:])
                    }
                }
                let base = "/admin/orgs/org_01J9Z3ACME/discrepancies"
                let (status, open) = try await get(base)
                #expect(status == .ok)
                let rows = open["discrepancies"] as? [[String: Any]] ?? []
                #expect(rows.map { $0["reason"] as? String } == ["payment_not_paid_out"], "the resolved one is not open: \(open)")
                #expect((rows.first?["expected"] as? [String: Any])?["amount_minor"] as? Int == 4728, "the payment's net")
                let (_, resolved) = try await get(base + "?status=resolved&reason=order_paid_no_payment")
                let closed = resolved["discrepancies"] as? [[String: Any]] ?? []
                #expect(closed.first?["resolved_by"] as? String == "matching" && closed.count == 1, "\(resolved)")
                let (_, young) = try await get(base + "?older_than=31536000")
                #expect((young["discrepancies"] as? [Any])?.isEmpty == true, "none is a year old")
                let id = rows.first?["discrepancy_id"] as? String ?? ""
                let (one, body) = try await get(base + "/" + id)
                #expect(one == .ok && body["current_status"] as? String == "mismatched:payment_not_paid_out")
                #expect(try await get(base + "/dsc_000000000000000000000000").0 == .notFound)
                #expect(try await get(base + "?reason=late").0 == .badRequest)
                #expect(try await get(base + "?after=nonsense").0 == .badRequest)
                #expect(try await get(base + "?older_than=").0 == .badRequest, "an empty number is not an absent one")
                #expect(try await get(base + "?older_than=-1").0 == .badRequest)
                #expect(try await get(base + "?reason=").0 == .badRequest)
                #expect(try await get(base, stranger).0 == .forbidden)
            }
        }
    }

    @Test func aRunTurnsAnOverdueExpectationIntoADiscrepancyAndIsRecorded() async throws {
        try await withReconciliation { client, schema in
            let placed = try TestEvents.fixture(OrderPlaced.self)
            let soon = placed.data.origin.occurredAt.addingTimeInterval(60)
            let inbox = try TestService.inbox(for: ReconciliationService.definition(now: { soon }), client: client, schema: schema)
            try await inbox.apply([try TestEvents.message(placed, offset: 0)])
            let job = ReconciliationRunJob(client: client, schema: schema, logger: TestDatabase.logger)
            let org = TenantID(rawValue: placed.tenant)!
            #expect(try await job.scheduled(now: soon, org: nil) == JobRunReport(), "nothing is due yet")
            let later = soon.addingTimeInterval(7_200)
            #expect(try await RunStore.dueOrgs(now: later, client: client, schema: schema, logger: TestDatabase.logger) == [org])
            #expect(try await job.scheduled(now: later, org: nil).processed == 1)
            let router = try TestService.router(for: ReconciliationService.definition(now: { later }), client: client, schema: schema)
            let finance = TestService.tokens.issue(subject: "fin", org: org.rawValue, role: .finance)
            let viewer = TestService.tokens.issue(subject: "vi", org: org.rawValue, role: .viewer)
            try await Application(router: router).test(.router) { http in
                let refused = try await http.execute(uri: "/admin/orgs/\(org)/runs", method: .post, headers: [.authorization: "Bearer \(viewer)"]) { $0.status }
                #expect(refused == .forbidden)
                let started = try await http.execute(uri: "/admin/orgs/\(org)/runs", method: .post, headers: [.authorization: "Bearer \(finance)"]) {
                    ($0.status, String(buffer: $0.body))
                }
                #expect(started.0 == .created && started.1.contains(#""trigger":"manual""#), "\(started.1)")
            }
            let (checks, runs, events, audit) = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                (
                    try await admin.strings("SELECT check_key || ' ' || coalesce(reason, status) FROM \(unescaped: schema.name).checks"),
                    try await admin.strings("SELECT trigger || ' ' || items_checked || ' ' || opened FROM \(unescaped: schema.name).sync_runs ORDER BY started_at, trigger DESC"),
                    try await admin.strings("SELECT headers ->> 'ce_type' FROM \(unescaped: schema.name).outbox ORDER BY id"),
                    try await admin.strings("SELECT actor || ' ' || action FROM \(unescaped: schema.name).audit_log")
                )
            }
            #expect(checks == ["order_payment:order:ord_7731 order_paid_no_payment"])
            #expect(runs == ["scheduled 1 1", "manual 1 0"], "the manual run re-checked the failing order and changed nothing")
            #expect(events.filter { $0 == RunCompleted.eventType }.count == 2 && events.filter { $0 == DiscrepancyOpened.eventType }.count == 1)
            #expect(audit == ["fin run.start"])
        }
    }
}
