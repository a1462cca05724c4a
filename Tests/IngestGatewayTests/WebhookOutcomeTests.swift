import Contracts
import Foundation
import PostgresNIO
import Storage
import Synchronization
import TallyTestSupport
import Testing

@testable import IngestGateway

/// How the normalizer's outcomes settle inbox rows, from the pure rule up: the assignment as plain
/// functions, the handler over an in-memory store, and the status list against the database's.
@Suite("Webhook outcomes")
struct WebhookOutcomeTests {
    static let acme = TenantID(rawValue: "org_acme")!
    static let globex = TenantID(rawValue: "org_globex")!
    static let rows = (0..<4).map { UUID(uuidString: "aaaaaaaa-0000-4000-8000-00000000000\($0)")! }

    static func outcome(_ row: Int, _ status: WebhookOutcome.Status, reason: String? = nil) -> WebhookOutcome {
        WebhookOutcome(inboxID: rows[row].uuidString.lowercased(), status: status, canonicalEventIDs: [], reason: reason)
    }

    @Test func theFirstOutcomeOfARowDecidesAndRowsGroupByOrgInOrder() {
        let assignment = OutcomeAssignment([
            (Self.acme, Self.outcome(0, .processed)),
            (Self.globex, Self.outcome(1, .failed, reason: "amount missing")),
            (Self.acme, Self.outcome(0, .ignored)),
            (Self.acme, WebhookOutcome(inboxID: "not-a-uuid", status: .processed, canonicalEventIDs: [], reason: nil)),
            (Self.acme, Self.outcome(2, .superseded, reason: "older")),
        ])
        #expect(assignment.unaddressed == ["not-a-uuid"])
        #expect(assignment.byTenant.map(\.tenant) == [Self.acme, Self.globex])
        #expect(
            assignment.byTenant[0].updates == [
                .init(position: 0, inboxID: Self.rows[0], status: .processed, reason: nil),
                .init(position: 4, inboxID: Self.rows[2], status: .superseded, reason: "older"),
            ])
        #expect(assignment.byTenant[1].updates == [.init(position: 1, inboxID: Self.rows[1], status: .failed, reason: "amount missing")])
    }

    @Test(arguments: [WebhookOutcome.Status.processed, .ignored, .superseded, .failed])
    func everyOutcomeSetsAFinalStatus(_ status: WebhookOutcome.Status) {
        let inbox = InboxStatus(status)
        #expect(inbox.isFinal)
        #expect(inbox.rawValue == status.rawValue)
        #expect(!InboxStatus.pending.isFinal && !InboxStatus.published.isFinal)
    }

    /// Rows as an in-memory inbox: only rows still awaiting an outcome take one.
    final class InMemoryOutcomes: WebhookOutcomeStore, Sendable {
        let rows: Mutex<[UUID: (tenant: TenantID, status: InboxStatus)]>
        init(_ rows: [UUID: (TenantID, InboxStatus)]) { self.rows = Mutex(rows.mapValues { (tenant: $0.0, status: $0.1) }) }

        func settle(_ updates: [OutcomeAssignment.Update], tenant: TenantID) async throws -> Set<UUID> {
            rows.withLock { rows in
                var settled = Set<UUID>()
                for update in updates {
                    guard let row = rows[update.inboxID], row.tenant == tenant, !row.status.isFinal else { continue }
                    rows[update.inboxID] = (tenant, update.status)
                    settled.insert(update.inboxID)
                }
                return settled
            }
        }
    }

    @Test func theHandlerAppliesOutcomesOnlyToRowsAwaitingOne() async throws {
        let store = InMemoryOutcomes([Self.rows[0]: (Self.acme, .published), Self.rows[1]: (Self.acme, .processed), Self.rows[2]: (Self.acme, .pending)])
        let events = try [Self.outcome(0, .processed), Self.outcome(1, .failed), Self.outcome(2, .ignored), Self.outcome(2, .processed)].enumerated().map { index, outcome in
            try TestEvents.inboxEvent(
                try TestEvents.fixture(WebhookOutcome.self) { event in
                    event.id = "out-\(index)"
                    event.tenant = Self.acme.rawValue
                    event.data = outcome
                }, offset: Int64(index))
        }
        let outcomes = try await WebhookOutcomeHandler(logger: TestDatabase.logger).handle(events, store: store)
        #expect(outcomes == [.applied, .ignored, .applied, .ignored], "a row already final, and a second outcome for a row, change nothing")
        let statuses = store.rows.withLock { $0.mapValues(\.status) }
        #expect(statuses == [Self.rows[0]: .processed, Self.rows[1]: .processed, Self.rows[2]: .ignored])
    }

    /// The final statuses the code knows are exactly those `webhook_outcomes` allows, and the
    /// two before an outcome are those the `webhook_inbox` view derives.
    @Test(.enabled(if: TestDatabase.enabled))
    func inboxStatusesMatchTheTablesConstraint() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("gwstatus"), migrations: try TestService.migrations(of: .ingestGateway)) { client, schema in
            let definitions = try await client.strings(
                """
                SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
                WHERE c.conrelid = \(schema.name + ".webhook_outcomes")::regclass AND c.contype = 'c' AND pg_get_constraintdef(c.oid) LIKE '%status%'
                """)
            #expect(definitions.count == 1, "\(definitions)")
            let listed = (definitions.first ?? "").split(separator: "'").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            #expect(Set(listed) == Set(InboxStatus.allCases.filter(\.isFinal).map(\.rawValue)), "\(definitions)")
            let view = try await client.strings("SELECT pg_get_viewdef(\(schema.name + ".webhook_inbox")::regclass)")
            let derived = (view.first ?? "").split(separator: "'").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            #expect(Set(derived) == Set(InboxStatus.awaitingOutcome.map(\.rawValue)), "\(view)")
        }
    }
}
