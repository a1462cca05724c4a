import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Kafka
import PostgresNIO
import ServiceRuntime
import Storage
import TallyTestSupport
import Testing

@testable import Normalizer

/// The normalizer's consumer path against real PostgreSQL: canonical events, outcomes, lineage and
/// dead letters written together, and nothing written twice on redelivery or replay.
@Suite("Raw webhook handling", .enabled(if: TestDatabase.enabled))
struct RawWebhookHandlerTests {
    static let migrations = MappingGoldenTests.repository.appendingPathComponent("Services/Normalizer/Migrations")

    func message(_ fixture: String, inboxID: String, eventID: String, replayID: String? = nil, body: Data? = nil, offset: Int64) throws -> KafkaConsumerMessage {
        var raw = try MappingGoldenTests.raw(fixture)
        raw.inboxID = inboxID
        raw.replayID = replayID
        if let body { raw.bodyBase64 = body.base64EncodedString() }
        // Received an hour ago: the reports below count the last days, so a fixed date would
        // fall out of their window as the calendar moves on.
        raw.receivedAt = Date().addingTimeInterval(-3600)
        let envelope = EventEnvelope(
            id: eventID, source: "/tally/ingest-gateway", time: raw.receivedAt, tenant: "org_acme",
            correlationID: inboxID, causationID: nil, data: raw)
        return KafkaConsumerMessage(
            topic: TallyTopic.rawWebhooks.name, partition: .init(0), offset: .init(offset),
            value: try CanonicalJSON.encode(envelope), headers: [KafkaHeader(key: "ce_id", string: eventID)])
    }

    /// The normalizer's consumer inbox as its definition builds it, applied directly (no broker:
    /// dead letters go through the outbox).
    static func normalizerInbox(_ client: PostgresClient, _ schema: ServiceSchema) throws -> InboxTransaction {
        try TestService.inbox(for: NormalizerService.definition(NormalizerSettings()), client: client, schema: schema)
    }

    @Test func canonicalEventsOutcomesLineageAndDeadLettersCommitTogetherOnce() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("norm"), migrations: try Migration.load(from: Self.migrations)) { client, schema in
            let inbox = try Self.normalizerInbox(client, schema)
            let payment = "11111111-1111-4111-8111-111111111111"
            let customer = "22222222-2222-4222-8222-222222222222"
            let broken = "33333333-3333-4333-8333-333333333333"
            let batch = KafkaConsumerBatch(messages: [
                try message("stripe/payment_intent.succeeded.json", inboxID: payment, eventID: payment, offset: 0),
                try message(
                    "stripe/customer.subscription.updated.json", inboxID: customer, eventID: customer,
                    body: Data(#"{"id":"evt_b","type":"balance.available","created":1,"data":{"object":{}}}"#.utf8), offset: 1),
                try message(
                    "stripe/payment_intent.succeeded.json", inboxID: broken, eventID: broken,
                    body: Data(#"{"id":"evt_x","type":"payment_intent.succeeded","created":1,"data":{}}"#.utf8), offset: 2),
            ])
            try await inbox.apply(batch)
            try await inbox.apply(batch)  // redelivery
            // A replay of the payment's inbox row: a new raw event, the same canonical event.
            try await inbox.apply(
                KafkaConsumerBatch(messages: [try message("stripe/payment_intent.succeeded.json", inboxID: payment, eventID: "rpl_1-\(payment)", replayID: "rpl_1", offset: 3)]))

            let rows = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings("SELECT topic || ' ' || event_id FROM \(unescaped: schema.name).outbox ORDER BY id")
            }
            let paymentEventID = CanonicalID.derive(inboxID: payment, position: 0)
            #expect(
                rows.filter { $0.hasPrefix("tally.canonical.payments.v1 ") } == ["tally.canonical.payments.v1 \(paymentEventID)"],
                "one canonical payment event, even after redelivery and replay")
            #expect(rows.filter { $0.hasPrefix("tally.ingest.webhook-outcomes.v1 ") }.count == 4, "one outcome per raw event (three originals and the replay)")
            #expect(rows.filter { $0.hasPrefix("tally.normalizer.dead-letters.v1 ") }.count == 1)

            let outcomes = try await client.withTenantTransaction(TenantID(rawValue: "org_acme")!, logger: TestDatabase.logger) { connection in
                var outcomes: [String] = []
                for try await (inboxID, outcome, reason) in try await connection.query(
                    "SELECT source_inbox_id, outcome, coalesce(reason, '') FROM \(unescaped: schema.name).raw_outcomes ORDER BY raw_event_id", logger: TestDatabase.logger
                ).decode((String, String, String).self) { outcomes.append("\(inboxID.prefix(1)) \(outcome) \(reason)") }
                return outcomes
            }
            #expect(
                outcomes == [
                    "1 processed ",
                    "2 ignored stripe event type balance.available is not mapped",
                    "3 failed stripe payload lacks data.object",
                    "1 processed ",
                ])
            let lineage = try await client.withTenantTransaction(TenantID(rawValue: "org_acme")!, logger: TestDatabase.logger) { connection in
                var ids: [String] = []
                for try await id in try await connection.query("SELECT canonical_event_id FROM \(unescaped: schema.name).lineage", logger: TestDatabase.logger).decode(String.self)
                { ids.append(id) }
                return ids
            }
            #expect(lineage == [paymentEventID])

            // The same facts through the admin routes.
            let router = try TestService.router(for: NormalizerService.definition(NormalizerSettings()), client: client, schema: schema)
            let headers: HTTPFields = [.authorization: "Bearer \(TestService.tokens.issue(subject: "v", org: "org_acme", role: .viewer))"]
            try await Application(router: router).test(.router) { http in
                let lineageJSON = try await http.execute(uri: "/admin/orgs/org_acme/lineage/\(payment)", method: .get, headers: headers) { String(buffer: $0.body) }
                #expect(lineageJSON.contains(paymentEventID) && lineageJSON.contains(#""outcome":"processed""#))
                let delta = try await http.execute(uri: "/admin/orgs/org_acme/reports/delta", method: .get, headers: headers) {
                    try JSONSerialization.jsonObject(with: Data(buffer: $0.body)) as? [String: Any]
                }
                let row = try #require((delta?["days"] as? [[String: Any]])?.first, "\(String(describing: delta))")
                #expect(row["provider"] as? String == "stripe")
                #expect(row["received"] as? Int == 4)
                #expect(row["processed"] as? Int == 2)
                #expect(row["ignored"] as? Int == 1)
                #expect(row["failed"] as? Int == 1)
                #expect(row["pending"] as? Int == 0, "zero unexplained rows")
                let freshness = try await http.execute(uri: "/admin/orgs/org_acme/reports/freshness", method: .get, headers: headers) { String(buffer: $0.body) }
                #expect(freshness.contains(#""provider":"stripe""#))
                let unknown = try await http.execute(uri: "/admin/orgs/org_acme/lineage/no-such-inbox-row", method: .get, headers: headers) { $0.status }
                #expect(unknown == .notFound)
            }
        }
    }

    /// The subscription's lifecycle as Stripe sends it, oldest first (the fixtures' event times
    /// increase in this order).
    static let lifecycle = [
        "stripe/customer.subscription.created.json", "stripe/customer.subscription.updated.json", "stripe/customer.subscription.paused.json",
        "stripe/customer.subscription.resumed.json", "stripe/customer.subscription.deleted.json",
    ]

    /// Run with every event in its own batch and with all of them in one batch: the batch
    /// handler must decide exactly as it does event by event.
    @Test(arguments: [false, true])
    func lateOlderSubscriptionEventsAreSupersededAndAReplayFromTheBeginningChangesNothing(oneBatch: Bool) async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("fence"), migrations: try Migration.load(from: Self.migrations)) { client, schema in
            let inbox = try Self.normalizerInbox(client, schema)
            let inboxIDs = Self.lifecycle.indices.map { "aaaaaaaa-0000-4000-8000-00000000000\($0)" }
            // Arrival order: created, paused, updated (late), deleted, resumed (late).
            let arrival = [0, 2, 1, 4, 3]
            func apply(_ messages: [KafkaConsumerMessage]) async throws {
                if oneBatch {
                    try await inbox.apply(KafkaConsumerBatch(messages: messages))
                } else {
                    for message in messages { try await inbox.apply(KafkaConsumerBatch(messages: [message])) }
                }
            }
            let originals = try arrival.enumerated().map { offset, index in
                try message(Self.lifecycle[index], inboxID: inboxIDs[index], eventID: inboxIDs[index], offset: Int64(offset))
            }
            try await apply(originals)

            func snapshot() async throws -> (emitted: [String], outcomes: [String], lineage: [String], fence: [String]) {
                try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                    (
                        try await admin.strings(
                            """
                            SELECT convert_from(payload, 'UTF8')::jsonb ->> 'type' FROM \(unescaped: schema.name).outbox
                            WHERE topic = 'tally.canonical.subscriptions.v1' ORDER BY id
                            """),
                        try await admin.strings("SELECT source_inbox_id || ' ' || outcome FROM \(unescaped: schema.name).raw_outcomes ORDER BY handled_at, raw_event_id"),
                        try await admin.strings("SELECT source_inbox_id || ' ' || disposition FROM \(unescaped: schema.name).lineage ORDER BY source_inbox_id"),
                        try await admin.strings(
                            "SELECT object_id || ' ' || to_char(version AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM \(unescaped: schema.name).object_versions")
                    )
                }
            }
            let first = try await snapshot()
            #expect(
                first.emitted == ["tally.subscription.activated.v1", "tally.subscription.paused.v1", "tally.subscription.canceled.v1"],
                "the late update and the late resume would roll state back, so they are not emitted; the last state is the newest: canceled")
            #expect(
                first.lineage == [
                    "\(inboxIDs[0]) emitted", "\(inboxIDs[1]) superseded", "\(inboxIDs[2]) emitted", "\(inboxIDs[3]) superseded", "\(inboxIDs[4]) emitted",
                ])
            #expect(first.fence == ["sub_1QAbcLkdIwHu7ix2mM1nO2pQ 2026-12-22T09:00:00"], "the fence holds the newest version (the deletion)")
            #expect(first.outcomes.filter { $0.hasSuffix(" superseded") } == ["\(inboxIDs[1]) superseded", "\(inboxIDs[3]) superseded"])

            // Replaying the raw topic from the beginning: the same messages again (the inbox skips
            // them), then every inbox row replayed by the gateway as new raw events, in order.
            try await apply(originals)
            try await apply(
                try Self.lifecycle.indices.map { index in
                    try message(Self.lifecycle[index], inboxID: inboxIDs[index], eventID: "rpl_9-\(inboxIDs[index])", replayID: "rpl_9", offset: Int64(10 + index))
                })
            let again = try await snapshot()
            #expect(again.emitted == first.emitted, "no canonical event is emitted twice or newly")
            #expect(again.lineage == first.lineage, "each event keeps its first decision")
            #expect(again.fence == first.fence)
            #expect(again.outcomes.count == first.outcomes.count + Self.lifecycle.count, "each replayed raw event gets its own outcome")
            #expect(Array(again.outcomes.suffix(5)).filter { $0.hasSuffix(" superseded") } == ["\(inboxIDs[1]) superseded", "\(inboxIDs[3]) superseded"])
        }
    }

    /// A replay in the same batch as its original, with a newer state change between them, keeps
    /// the original's decision (its lineage row is not written yet when the replay is fenced).
    @Test func aReplayInTheSameBatchKeepsTheFirstDecision() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("fence1"), migrations: try Migration.load(from: Self.migrations)) { client, schema in
            let inbox = try Self.normalizerInbox(client, schema)
            let inboxIDs = Self.lifecycle.indices.map { "bbbbbbbb-0000-4000-8000-00000000000\($0)" }
            // created, paused, deleted (newest), then a replay of paused: all in one batch.
            try await inbox.apply(
                KafkaConsumerBatch(messages: [
                    try message(Self.lifecycle[0], inboxID: inboxIDs[0], eventID: inboxIDs[0], offset: 0),
                    try message(Self.lifecycle[2], inboxID: inboxIDs[2], eventID: inboxIDs[2], offset: 1),
                    try message(Self.lifecycle[4], inboxID: inboxIDs[4], eventID: inboxIDs[4], offset: 2),
                    try message(Self.lifecycle[2], inboxID: inboxIDs[2], eventID: "rpl_1-\(inboxIDs[2])", replayID: "rpl_1", offset: 3),
                ]))
            let (outcomes, lineage) = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                (
                    try await admin.strings("SELECT raw_event_id || ' ' || outcome FROM \(unescaped: schema.name).raw_outcomes ORDER BY raw_event_id"),
                    try await admin.strings("SELECT source_inbox_id || ' ' || disposition FROM \(unescaped: schema.name).lineage ORDER BY source_inbox_id")
                )
            }
            #expect(lineage == ["\(inboxIDs[0]) emitted", "\(inboxIDs[2]) emitted", "\(inboxIDs[4]) emitted"])
            #expect(
                outcomes == ["\(inboxIDs[0]) processed", "\(inboxIDs[2]) processed", "\(inboxIDs[4]) processed", "rpl_1-\(inboxIDs[2]) processed"],
                "the replay is decided as its original was, not superseded by the deletion between them")
        }
    }
}
