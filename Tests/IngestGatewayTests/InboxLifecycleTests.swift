import Contracts
import Crypto
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
import WebhookSignatures

@testable import IngestGateway

/// An inbox row's life: pending → published (when the relay publishes it) → processed /
/// ignored / failed (from the normalizer's outcome), with a real broker that goes away.
@Suite("Webhook inbox lifecycle", .enabled(if: TestDatabase.enabled), .serialized)
struct InboxLifecycleTests {
    static let org = TenantID(rawValue: "org_acme")!

    func statuses(_ client: PostgresClient, _ schema: ServiceSchema) async throws -> [String: String] {
        try await client.withTenantTransaction(Self.org, logger: TestDatabase.logger) { connection in
            var result: [String: String] = [:]
            for try await (id, status) in try await connection.query("SELECT id::text, status FROM \(unescaped: schema.name).webhook_inbox", logger: TestDatabase.logger).decode(
                (String, String).self)
            {
                result[id] = status
            }
            return result
        }
    }

    /// An org's inbox page is read through the listing index, not by scanning every org's rows:
    /// the operators' read policy is OR-ed with the tenant policy, so only the query's own org
    /// condition can use the index.
    @Test func anOrgsInboxPageIsReadThroughTheListingIndex() async throws {
        let migrations = try Migration.load(from: WebhookIntakeTests.migrations)
        try await TestDatabase.withService(TestDatabase.uniqueService("gwlist"), migrations: migrations) { client, schema in
            let logger = TestDatabase.logger
            let other = try #require(TenantID(rawValue: "org_other"))
            let sources = SourceStore(client: client, schema: schema.name, box: SecretBox(key: SymmetricKey(size: .bits256)), audit: AuditLog(schema: schema), logger: logger)
            for (org, rows) in [(other, 6000), (Self.org, 60)] {
                let (source, _) = try await sources.create(org: org, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "t")
                try await client.withTenantTransaction(org, logger: logger) { connection in
                    try await connection.query(
                        """
                        INSERT INTO \(unescaped: schema.name).webhooks
                            (id, org_id, source_id, provider, provider_event_id, provider_event_type, trust, content_type, body, body_sha256, headers, received_at)
                        SELECT gen_random_uuid(), \(org.rawValue), \(source.id), 'stripe', \(org.rawValue) || '_evt_' || n, 'charge.refunded', 'verified', 'application/json',
                               convert_to(repeat('x', 300), 'UTF8'), 'h', '{}', now() - n * interval '1 second'
                        FROM generate_series(1, \(rows)) n
                        """, logger: logger)
                }
            }
            try await client.query("ANALYZE \(unescaped: schema.name).webhooks", logger: logger)
            let query = InboxQueries.listQuery(schema: schema, org: Self.org, filter: InboxFilter(), cursor: nil, limit: 50)
            let plan = try await client.withTenantTransaction(Self.org, logger: logger) { connection in
                var lines: [String] = []
                for try await line in try await connection.query(
                    PostgresQuery(unsafeSQL: "EXPLAIN (COSTS OFF) " + query.sql, binds: query.binds),
                    logger: logger
                ).decode(String.self) { lines.append(line) }
                return lines.joined(separator: "\n")
            }
            // The stored webhooks are read through the listing index (the view's small side
            // tables, outcomes and the publication position, may be read any way).
            #expect(plan.contains("webhooks_listing") && !plan.contains("Seq Scan on webhooks "), "\(plan)")
            let page = try await InboxQueries(client: client, schema: schema, logger: logger).list(org: Self.org, filter: InboxFilter(), cursor: nil, limit: 50)
            #expect(page.0.count == 50 && page.0.allSatisfy { $0.providerEventID.hasPrefix(Self.org.rawValue + "_evt_") }, "only the org's own rows")
        }
    }

    /// Stores `count` webhooks of a new Stripe source (`evt_0`, `evt_1`, …) and returns their inbox ids.
    func acceptWebhooks(_ count: Int, _ client: PostgresClient, _ schema: ServiceSchema, org: TenantID = Self.org) async throws -> [UUID] {
        let sources = SourceStore(
            client: client, schema: schema.name, box: SecretBox(key: SymmetricKey(size: .bits256)), audit: AuditLog(schema: schema), logger: TestDatabase.logger)
        let (source, _) = try await sources.create(org: org, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "t")
        let store = WebhookInboxStore(client: client, schema: schema, logger: TestDatabase.logger)
        var ids: [UUID] = []
        for index in 0..<count {
            let outcome = try await store.accept(
                IncomingWebhook(
                    source: source, providerEventID: "evt_\(index)", providerEventType: "payment_intent.succeeded",
                    trust: .verified, contentType: "application/json", body: Array("{\"id\":\"evt_\(index)\"}".utf8),
                    verificationHeaders: [:], receivedAt: Date()))
            ids.append(outcome.inboxID)
        }
        return ids
    }

    /// An executed replay commits in chunks: every matching row once, oldest first, one audit
    /// entry; a chunk that fails leaves the earlier chunks replayed and says how far it got.
    @Test func aReplayRunsInChunksAndAnInterruptedOneSaysHowFarItGot() async throws {
        let migrations = try Migration.load(from: WebhookIntakeTests.migrations)
        try await TestDatabase.withService(TestDatabase.uniqueService("gwreplay"), migrations: migrations) { client, schema in
            let logger = TestDatabase.logger
            let inboxIDs = try await acceptWebhooks(5, client, schema).map { $0.uuidString.lowercased() }
            let queries = InboxQueries(client: client, schema: schema, logger: logger, replayChunkSize: 2)
            let audit = AuditLog(schema: schema)
            func replayedInboxIDs(_ replayID: String) async throws -> [String] {
                try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { superuser in
                    try await superuser.strings(
                        "SELECT substr(event_id, \(replayID.count + 2)::int) FROM \(unescaped: schema.name).outbox WHERE event_id LIKE \(replayID + "-%") ORDER BY id")
                }
            }

            let dry = try await queries.replay(org: Self.org, filter: InboxFilter(), execute: false, actor: "ada", audit: audit)
            #expect(dry.replayID == nil && dry.count == 5 && dry.ids == inboxIDs)

            let done = try await queries.replay(org: Self.org, filter: InboxFilter(), execute: true, actor: "ada", audit: audit)
            let replayID = try #require(done.replayID)
            #expect(done.count == 5 && done.ids == inboxIDs)
            #expect(try await replayedInboxIDs(replayID) == inboxIDs, "each row once, in the order received, across three chunks")

            // The third row's outbox event fails: the first chunk (two rows) stays replayed.
            try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { superuser in
                try await superuser.query(
                    PostgresQuery(
                        unsafeSQL: """
                            CREATE FUNCTION \(schema.name).refuse_third() RETURNS trigger LANGUAGE plpgsql AS $$
                            BEGIN
                                IF NEW.event_id LIKE '%-\(inboxIDs[2])' THEN RAISE EXCEPTION 'refused for the test'; END IF;
                                RETURN NEW;
                            END $$;
                            """), logger: logger)
                try await superuser.query(
                    PostgresQuery(
                        unsafeSQL: """
                            CREATE TRIGGER refuse_third BEFORE INSERT ON \(schema.name).outbox FOR EACH ROW EXECUTE FUNCTION \(schema.name).refuse_third()
                            """), logger: logger)
            }
            do {
                _ = try await queries.replay(org: Self.org, filter: InboxFilter(), execute: true, actor: "ada", audit: audit)
                Issue.record("the replay should have stopped at the third row")
            } catch let stopped as ReplayInterrupted {
                #expect(stopped.replayed == 2 && stopped.matched == 5)
                #expect(try await replayedInboxIDs(stopped.replayID) == Array(inboxIDs.prefix(2)))
            }
            let audited = try await client.withTenantTransaction(Self.org, logger: logger) { connection in
                var entries: [String] = []
                for try await (action, after) in try await connection.query(
                    "SELECT action, after::text FROM \(unescaped: schema.name).audit_log WHERE action LIKE 'inbox.replay%' ORDER BY id", logger: logger
                ).decode((String, String).self) { entries.append("\(action) \(after)") }
                return entries
            }
            #expect(
                audited == [
                    #"inbox.replay {"matched": 5}"#, #"inbox.replay.completed {"replayed": 5}"#,
                    #"inbox.replay {"matched": 5}"#, #"inbox.replay.interrupted {"replayed": 2}"#,
                ])
        }
    }

    /// Rows that share one received_at (a group commit stamps a whole batch alike) are each
    /// replayed once when a chunk boundary falls among them.
    @Test func aReplayChunkBoundaryInsideATieLosesAndRepeatsNothing() async throws {
        let migrations = try Migration.load(from: WebhookIntakeTests.migrations)
        try await TestDatabase.withService(TestDatabase.uniqueService("gwtie"), migrations: migrations) { client, schema in
            let logger = TestDatabase.logger
            let sources = SourceStore(client: client, schema: schema.name, box: SecretBox(key: SymmetricKey(size: .bits256)), audit: AuditLog(schema: schema), logger: logger)
            let (source, _) = try await sources.create(org: Self.org, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "t")
            // Seven rows: one alone, five sharing a time, one alone; chunks of two cut the tie twice.
            try await client.withTenantTransaction(Self.org, logger: logger) { connection in
                try await connection.query(
                    """
                    INSERT INTO \(unescaped: schema.name).webhooks
                        (id, org_id, source_id, provider, provider_event_id, provider_event_type, trust, content_type, body, body_sha256, headers, received_at)
                    SELECT gen_random_uuid(), \(Self.org.rawValue), \(source.id), 'stripe', 'evt_' || n, 'charge.refunded', 'verified', 'application/json',
                           convert_to('{}', 'UTF8'), 'h', '{}',
                           timestamptz '2026-11-01 10:00:00.123456+00' + (CASE WHEN n = 1 THEN 0 WHEN n = 7 THEN 2 ELSE 1 END) * interval '1 second'
                    FROM generate_series(1, 7) n
                    """, logger: logger)
            }
            let expected = try await client.withTenantTransaction(Self.org, logger: logger) { connection in
                var ids: [String] = []
                for try await id in try await connection.query("SELECT id::text FROM \(unescaped: schema.name).webhook_inbox ORDER BY received_at, id", logger: logger)
                    .decode(String.self)
                { ids.append(id) }
                return ids
            }
            let queries = InboxQueries(client: client, schema: schema, logger: logger, replayChunkSize: 2)
            let done = try await queries.replay(org: Self.org, filter: InboxFilter(), execute: true, actor: "ada", audit: AuditLog(schema: schema))
            let replayID = try #require(done.replayID)
            let replayed = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { superuser in
                try await superuser.strings(
                    "SELECT substr(event_id, \(replayID.count + 2)::int) FROM \(unescaped: schema.name).outbox WHERE event_id LIKE \(replayID + "-%") ORDER BY id")
            }
            #expect(expected.count == 7 && done.count == 7)
            #expect(replayed == expected, "every row once, in (received_at, id) order")
        }
    }

    /// Reads and records batches the way the relay does, as if every message was delivered.
    func publishAll(_ feed: RawWebhookFeed) async throws -> [String] {
        var published: [String] = []
        while true {
            let rows = try await feed.read(inFlight: [], limit: 2)
            if rows.isEmpty { return published }
            try await feed.settle(rows.map(\.position), outcomes: rows.map { _ in .success(()) })
            published += rows.map(\.position.row)
        }
    }

    /// A transaction that stored a webhook but commits after a later one must not be left behind
    /// the feed's position: the feed reads only rows of transactions that have all ended, so the
    /// earlier transaction's row is published once it commits, before the later one's.
    @Test func aWebhookCommittedAfterALaterOneIsStillPublished() async throws {
        let migrations = try Migration.load(from: WebhookIntakeTests.migrations)
        try await TestDatabase.withService(TestDatabase.uniqueService("gwxmin"), migrations: migrations) { client, schema in
            let logger = TestDatabase.logger
            let sources = SourceStore(client: client, schema: schema.name, box: SecretBox(key: SymmetricKey(size: .bits256)), audit: AuditLog(schema: schema), logger: logger)
            let (source, _) = try await sources.create(org: Self.org, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "t")
            let store = WebhookInboxStore(client: client, schema: schema, logger: logger)
            let feed = RawWebhookFeed(client: client, schema: schema, logger: logger)
            let (opened, open) = AsyncStream.makeStream(of: Void.self)
            let (released, release) = AsyncStream.makeStream(of: Void.self)
            // The slow transaction: stores evt_slow first (the lower transaction id), commits last.
            let slow = Task {
                try await client.withTransaction(logger: logger) { connection in
                    try await connection.query(
                        """
                        SELECT * FROM \(unescaped: schema.name).accept_webhooks(\(Self.org.rawValue), ARRAY[gen_random_uuid()], ARRAY[\(source.id)], ARRAY['stripe'],
                            ARRAY['evt_slow'], ARRAY['payment_intent.succeeded'], ARRAY['verified'], ARRAY['application/json'], ARRAY[encode('{}', 'base64')],
                            ARRAY['h'], ARRAY[2], ARRAY['{}'], ARRAY[now()])
                        """, logger: logger)
                    open.yield()
                    for await _ in released { break }
                }
            }
            for await _ in opened { break }
            let fast = try await store.accept(WebhookIntakeTests.verified(from: source, eventID: "evt_fast", body: "{}"))
            // The relay runs while the slow transaction is open: it must not get past it.
            let whileOpen = try await publishAll(feed)
            #expect(whileOpen.isEmpty, "nothing is read past a transaction still running")
            release.yield()
            try await slow.value
            var published: [String] = []
            try await waitUntil("both webhooks are published") {
                published += try await publishAll(feed)
                return published.count >= 2
            }
            let slowID = try #require(try await statuses(client, schema).first { $0.key != fast.inboxID.uuidString.lowercased() }?.key)
            #expect(published == [slowID, fast.inboxID.uuidString.lowercased()], "in transaction order, each once")
            #expect(Set(try await statuses(client, schema).values) == ["published"])
        }
    }

    /// A batch with a failed message records only what precedes the failure, and nothing later
    /// until the relay restarts; the restart reads again from the failure.
    @Test func aFailedDeliveryHoldsThePositionUntilTheRelayRestarts() async throws {
        let migrations = try Migration.load(from: WebhookIntakeTests.migrations)
        try await TestDatabase.withService(TestDatabase.uniqueService("gwfail"), migrations: migrations) { client, schema in
            let ids = try await acceptWebhooks(4, client, schema).map { $0.uuidString.lowercased() }
            let feed = RawWebhookFeed(client: client, schema: schema, logger: TestDatabase.logger)
            var first: [(position: CommitPosition, message: KafkaProducerMessage)] = []
            try await waitUntil("the webhooks are readable") {
                first = try await feed.read(inFlight: [], limit: 3)
                return first.count == 3
            }
            let second = try await feed.read(inFlight: first.map(\.position), limit: 3)
            #expect(first.map(\.position.row) + second.map(\.position.row) == ids, "after the rows in flight, in order")
            let failure = KafkaError(.delivery, "message timed out")
            try await feed.settle(first.map(\.position), outcomes: [.success(()), .failure(failure), .success(())])
            try await feed.settle(second.map(\.position), outcomes: [.success(())])
            let recorded = try await statuses(client, schema)
            #expect(recorded[ids[0]] == "published")
            #expect(ids.dropFirst().allSatisfy { recorded[$0] == "pending" }, "nothing after the failure: \(recorded)")
            await feed.restart()
            let again = try await feed.read(inFlight: [], limit: 10)
            #expect(again.map(\.position.row) == Array(ids.dropFirst()))
        }
    }

    @Test func webhooksAcceptedWhileTheBrokerIsDownArePublishedWhenItReturns() async throws {
        let broker = try TestTansu.start()
        defer { broker.stop() }
        try await broker.createTopic(TallyTopic.rawWebhooks.name)
        let migrations = try Migration.load(from: WebhookIntakeTests.migrations)
        try await TestDatabase.withService(TestDatabase.uniqueService("gwout"), migrations: migrations) { client, schema in
            let sources = SourceStore(
                client: client, schema: schema.name, box: SecretBox(key: SymmetricKey(size: .bits256)), audit: AuditLog(schema: schema), logger: TestDatabase.logger)
            let (source, secret) = try await sources.create(org: Self.org, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "t")
            let router = Router(context: ServiceRequestContext.self)
            router.add(middleware: ProblemMiddleware())
            router.get("/healthz") { _, _ in "alive" }
            WebhookRoutes(
                sources: sources, inbox: WebhookInboxStore(client: client, schema: schema, logger: TestDatabase.logger), maxBodySize: 1 << 20, logger: TestDatabase.logger
            ).add(to: router)
            let producer = try KafkaProducer(
                configuration: .init(client: .init(bootstrapServers: [broker.address], statisticsInterval: nil), deliveryTimeout: .seconds(10)), logger: TestDatabase.logger)
            let relay = Relay(
                feed: RawWebhookFeed(client: client, schema: schema, logger: TestDatabase.logger), client: client, producer: producer,
                logger: TestDatabase.logger, pollInterval: .milliseconds(200))
            let relayTask = Task { try await relay.run() }

            broker.stop()
            let accepted = try await Application(router: router).test(.router) { http in
                var accepted: [String] = []
                for name in ["payment_intent.succeeded", "charge.refunded", "payout.paid"] {
                    let body = try WebhookIntakeTests.fixture("stripe/\(name).json")
                    let headers: HTTPFields = [
                        .contentType: "application/json", HTTPField.Name("Stripe-Signature")!: StripeSignatureVerifier.sign(body: body, secret: secret, at: Date()),
                    ]
                    let id = try await http.execute(uri: "/webhooks/\(source.id)", method: .post, headers: headers, body: ByteBuffer(bytes: body)) { response in
                        #expect(response.status == .ok, "accepted while the broker is down")
                        let answer = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                        return answer?["inbox_id"] as? String
                    }
                    if let id { accepted.append(id) }
                }
                let health = try await http.execute(uri: "/healthz", method: .get) { $0.status }
                #expect(health == .ok)
                return accepted
            }
            try await Task.sleep(for: .seconds(2))
            #expect(Set(try await statuses(client, schema).values) == ["pending"], "nothing published while the broker is down")

            try broker.restart()
            try await broker.createTopic(TallyTopic.rawWebhooks.name)
            try await waitUntil("every accepted webhook is published", limit: .seconds(60)) {
                Set(try await statuses(client, schema).values) == ["published"]
            }
            relayTask.cancel()
            _ = await relayTask.result
            await producer.shutdown()
            #expect(try await statuses(client, schema).keys.sorted() == accepted.sorted())

            let consumer = try KafkaConsumer(
                configuration: .init(
                    client: .init(bootstrapServers: [broker.address], statisticsInterval: nil), groupID: "check",
                    topics: [TallyTopic.rawWebhooks.name], sessionTimeout: .seconds(6), heartbeatInterval: .milliseconds(500)),
                logger: TestDatabase.logger)
            var onTopic = Set<String>()
            for await batch in consumer.batches {
                for message in batch.messages {
                    let event = try CanonicalJSON.decode(EventEnvelope<WebhookReceived>.self, from: message.value ?? [])
                    onTopic.insert(event.data.inboxID)
                }
                if onTopic.count >= accepted.count { break }
            }
            await consumer.close()
            #expect(onTopic == Set(accepted))
        }
    }

    @Test func outcomesSetTheFinalStatusOnceAndMetricsCountIt() async throws {
        let migrations = try Migration.load(from: WebhookIntakeTests.migrations)
        try await TestDatabase.withService(TestDatabase.uniqueService("gwoc"), migrations: migrations) { client, schema in
            let ids = try await acceptWebhooks(4, client, schema)
            let definition = IngestGatewayService.definition(GatewaySettings(box: SecretBox(key: SymmetricKey(size: .bits256))))
            let inbox = try TestService.inbox(for: definition, client: client, schema: schema)
            func outcome(_ index: Int, _ status: WebhookOutcome.Status, _ reason: String?) throws -> KafkaConsumerMessage {
                let id = ids[index].uuidString.lowercased()
                let event = EventEnvelope(
                    id: "out-\(index)-\(status.rawValue)", source: "/tally/normalizer", time: Date(), tenant: Self.org.rawValue,
                    correlationID: id, causationID: id,
                    data: WebhookOutcome(inboxID: id, status: status, canonicalEventIDs: status == .processed ? ["c-\(index)"] : [], reason: reason))
                return KafkaConsumerMessage(
                    topic: TallyTopic.webhookOutcomes.name, partition: .init(0), offset: .init(Int64(index)), value: try CanonicalJSON.encode(event),
                    headers: [KafkaHeader(key: "ce_id", string: event.id)])
            }
            // Row 3 gets two outcomes in one batch (the webhook and its replay): the first decides.
            let batch = KafkaConsumerBatch(messages: [
                try outcome(0, .processed, nil), try outcome(1, .ignored, "unknown event type"), try outcome(2, .failed, "amount missing"),
                try outcome(3, .superseded, "older"), try outcome(3, .processed, nil),
            ])
            try await inbox.apply(batch)
            try await inbox.apply(batch)
            // A late, contradicting outcome for a row already decided changes nothing.
            try await inbox.apply(KafkaConsumerBatch(messages: [try outcome(0, .failed, "late")]))

            let final = try await statuses(client, schema)
            #expect(final[ids[0].uuidString.lowercased()] == "processed")
            #expect(final[ids[1].uuidString.lowercased()] == "ignored")
            #expect(final[ids[2].uuidString.lowercased()] == "failed")
            #expect(final[ids[3].uuidString.lowercased()] == "superseded")
            let counts = try await InboxMetrics(client: client, schema: schema, logger: TestDatabase.logger).countByStatus()
            #expect(counts == ["processed": 1, "ignored": 1, "failed": 1, "superseded": 1])
        }
    }
}
