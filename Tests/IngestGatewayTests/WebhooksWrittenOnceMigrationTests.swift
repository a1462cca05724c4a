import Contracts
import Crypto
import Foundation
import Kafka
import PostgresNIO
import ServiceRuntime
import Storage
import TallyTestSupport
import Testing

@testable import IngestGateway

/// Migration 0113 on a database with webhooks in every status: rows, statuses and reasons are
/// kept, a webhook whose event was still waiting in the outbox is published by the new relay
/// (and only by it), and nothing already published is published again.
@Suite("Gateway migration 0113 on existing rows", .enabled(if: TestDatabase.enabled), .serialized)
struct WebhooksWrittenOnceMigrationTests {
    static let org = TenantID(rawValue: "org_acme")!

    @Test func existingRowsKeepTheirStatusAndWaitingOnesArePublishedOnce() async throws {
        let all = try TestService.migrations(of: .ingestGateway)
        let before = all.filter { $0.version < 113 }
        #expect(all.contains { $0.version == 113 })
        try await TestDatabase.withService(TestDatabase.uniqueService("gwm113"), migrations: before) { client, schema in
            let logger = TestDatabase.logger
            let sources = SourceStore(client: client, schema: schema.name, box: SecretBox(key: SymmetricKey(size: .bits256)), audit: AuditLog(schema: schema), logger: logger)
            let (source, _) = try await sources.create(org: Self.org, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "t")
            // As the earlier intake left them: the row, and its raw event in the outbox
            // (published unless the row is still pending; platform migration 10, which runs
            // before the service's, says published with a NULL txid).
            let rows: [(event: String, status: String, reason: String?)] = [
                ("evt_waiting", "pending", nil), ("evt_out", "published", nil), ("evt_done", "processed", nil), ("evt_bad", "failed", "unreadable JSON"),
            ]
            var ids: [String: String] = [:]
            try await client.withTenantTransaction(Self.org, logger: logger) { connection in
                for row in rows {
                    let id = UUID().uuidString.lowercased()
                    ids[row.event] = id
                    try await connection.query(
                        """
                        INSERT INTO \(unescaped: schema.name).webhook_inbox
                            (id, org_id, source_id, provider, provider_event_id, provider_event_type, trust, content_type, body, body_sha256, headers,
                             status, status_reason, received_at)
                        VALUES (\(id)::uuid, \(Self.org.rawValue), \(source.id), 'stripe', \(row.event), 'payment_intent.succeeded', 'verified',
                                'application/json', convert_to(\("{\"id\":\"\(row.event)\"}"), 'UTF8'), 'h', '{}', \(row.status), \(row.reason), now())
                        """, logger: logger)
                    try await connection.query(
                        """
                        INSERT INTO \(unescaped: schema.name).outbox (event_id, topic, message_key, payload, org_id, txid)
                        VALUES (\(id), 'tally.ingest.raw-webhooks.v1', \(id), convert_to('{}', 'UTF8'), \(Self.org.rawValue),
                                CASE WHEN \(row.status) = 'pending' THEN pg_current_xact_id() END)
                        """, logger: logger)
                }
            }

            let applied = try await MigrationRunner(schema: schema, serviceMigrations: all).migrate(client, logger: logger)
            #expect(applied.contains(113))

            func inbox() async throws -> [String: (status: String, reason: String?)] {
                try await client.withTenantTransaction(Self.org, logger: logger) { connection in
                    var found: [String: (status: String, reason: String?)] = [:]
                    for try await (event, status, reason) in try await connection.query(
                        "SELECT provider_event_id, status, status_reason FROM \(unescaped: schema.name).webhook_inbox", logger: logger
                    ).decode((String, String, String?).self) { found[event] = (status, reason) }
                    return found
                }
            }
            let migrated = try await inbox()
            #expect(migrated.mapValues(\.status) == ["evt_waiting": "pending", "evt_out": "published", "evt_done": "processed", "evt_bad": "failed"])
            #expect(migrated["evt_bad"]?.reason == "unreadable JSON")
            let outboxEvents = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings("SELECT event_id FROM \(unescaped: schema.name).outbox ORDER BY event_id")
            }
            #expect(Set(outboxEvents) == Set(["evt_out", "evt_done", "evt_bad"].compactMap { ids[$0] }), "the waiting row's outbox copy is gone")

            // The new relay publishes the waiting row first, then rows stored from now on.
            let store = WebhookInboxStore(client: client, schema: schema, logger: logger)
            let fresh = try await store.accept(WebhookIntakeTests.verified(from: source, eventID: "evt_new", body: "{}"))
            let feed = RawWebhookFeed(client: client, schema: schema, logger: logger)
            var read: [(position: CommitPosition, message: KafkaProducerMessage)] = []
            try await waitUntil("both unpublished webhooks are readable") {
                read = try await feed.read(inFlight: [], limit: 10)
                return read.count >= 2
            }
            #expect(read.map(\.position.row) == [ids["evt_waiting"], fresh.inboxID.uuidString.lowercased()])
            try await feed.settle(read.map(\.position), outcomes: read.map { _ in .success(()) })
            #expect(Set(try await inbox().filter { ["evt_waiting", "evt_new"].contains($0.key) }.map(\.value.status)) == ["published"])
            #expect(try await feed.read(inFlight: [], limit: 10).isEmpty, "nothing is published twice")
        }
    }
}
