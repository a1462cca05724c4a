import Contracts
import Foundation
import Kafka
import PostgresNIO
import Synchronization
import TallyTestSupport
import Testing

@testable import Storage

@Suite("Outbox relay and consumer inbox on real PostgreSQL and a real broker", .enabled(if: TestDatabase.enabled), .serialized)
struct OutboxInboxTests {
    static let appliedTable = Migration(version: 100, name: "applied", sql: "CREATE TABLE applied (event_id text PRIMARY KEY, body text NOT NULL);")

    func kafkaClient(_ brokers: String) -> KafkaClientConfiguration {
        KafkaClientConfiguration(bootstrapServers: [brokers], clientID: "storage-tests", statisticsInterval: nil)
    }

    func messages(_ count: Int, prefix: String, topic: String) -> [OutboxMessage] {
        (0..<count).map {
            OutboxMessage(eventID: "\(prefix)-\($0)", topic: topic, key: "key-\($0 % 3)", payload: Array("\(prefix)-\($0)".utf8), headers: ["ce_id": "\(prefix)-\($0)"])
        }
    }

    /// A dead-letter topic of its own on the real broker, so tests never read each other's.
    func newDeadLetterTopic(_ brokers: String) async throws -> String {
        let name = "dlq-\(UUID().uuidString.prefix(6).lowercased())"
        let admin = try KafkaAdmin(configuration: kafkaClient(brokers), logger: TestDatabase.logger)
        do {
            _ = try await admin.createTopics([KafkaTopicSpecification(name: name, partitions: 1)])
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
        return name
    }

    func unpublished(_ client: PostgresClient, _ schema: ServiceSchema) async throws -> Int {
        Int(try await OutboxFeed(client: client, schema: schema, logger: TestDatabase.logger).backlog().messages)
    }

    /// Published rows older than the retention are deleted, oldest first and a bounded number
    /// per call; unpublished rows stay however old, and so do recent published ones.
    @Test func publishedRowsAreDeletedAfterTheRetentionAndUnpublishedOnesNever() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("prune")) { client, schema in
            let logger = TestDatabase.logger
            let outbox = Outbox(schema: schema)
            try await client.withTransaction(logger: logger) { connection in
                try await outbox.enqueue(messages(7, prefix: "row", topic: "t"), on: connection, logger: logger)
            }
            try await client.withTransaction(logger: logger) { connection in
                try await outbox.enqueue(messages(2, prefix: "late", topic: "t"), on: connection, logger: logger)
            }
            // Rows 0–4 written ten days ago and rows 5 and 6 an hour ago, all published; the two
            // late rows stuck unpublished since ten days ago.
            try await client.query(
                """
                UPDATE \(unescaped: schema.name).outbox SET created_at = now() - CASE WHEN event_id IN ('row-5', 'row-6') THEN interval '1 hour' ELSE interval '10 days' END
                """, logger: logger)
            let feed = OutboxFeed(client: client, schema: schema, logger: logger)
            try await waitUntil("the rows are readable") { try await feed.read(inFlight: [], limit: 100).count == 9 }
            let first = try await feed.read(inFlight: [], limit: 7)
            try await feed.settle(first.map(\.position), outcomes: first.map { _ in .success(()) })
            #expect(try await feed.backlog().messages == 2)
            let week = Duration.seconds(7 * 24 * 3600)
            // Only the three oldest rows are looked at; then the other two old ones; never the late ones.
            #expect(try await outbox.prunePublished(olderThan: week, limit: 3, client: client, logger: logger) == 3)
            #expect(try await outbox.prunePublished(olderThan: week, client: client, logger: logger) == 2)
            #expect(try await outbox.prunePublished(olderThan: week, client: client, logger: logger) == 0)
            let left = try await client.strings("SELECT event_id FROM \(unescaped: schema.name).outbox ORDER BY id")
            #expect(left == ["row-5", "row-6", "late-0", "late-1"])
        }
    }

    /// A row whose transaction commits after a later one is not passed over: the feed reads
    /// nothing past a transaction still running, then both rows in transaction order.
    @Test func aRowCommittedAfterALaterOneIsStillRead() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("xmin")) { client, schema in
            let logger = TestDatabase.logger
            let outbox = Outbox(schema: schema)
            let feed = OutboxFeed(client: client, schema: schema, logger: logger)
            let (opened, open) = AsyncStream.makeStream(of: Void.self)
            let (released, release) = AsyncStream.makeStream(of: Void.self)
            let slow = Task {
                try await client.withTransaction(logger: logger) { connection in
                    try await outbox.enqueue(messages(1, prefix: "slow", topic: "t"), on: connection, logger: logger)
                    open.yield()
                    for await _ in released { break }
                }
            }
            for await _ in opened { break }
            try await client.withTransaction(logger: logger) { connection in
                try await outbox.enqueue(messages(1, prefix: "fast", topic: "t"), on: connection, logger: logger)
            }
            let whileOpen = try await feed.read(inFlight: [], limit: 10)
            #expect(whileOpen.isEmpty, "nothing is read past a transaction still running")
            release.yield()
            try await slow.value
            var read: [(position: CommitPosition, message: KafkaProducerMessage)] = []
            try await waitUntil("both rows are readable") {
                read = try await feed.read(inFlight: [], limit: 10)
                return read.count == 2
            }
            #expect(read.map { String(decoding: $0.message.value ?? [], as: UTF8.self) } == ["slow-0", "fast-0"])
            try await feed.settle(read.map(\.position), outcomes: read.map { _ in .success(()) })
            #expect(try await feed.read(inFlight: [], limit: 10).isEmpty)
            #expect(try await feed.backlog().messages == 0)
        }
    }

    /// The horizon is the feed's own role's: another service's write transaction held open
    /// (finance's batches ran for seconds under load) does not hold this feed back.
    @Test func anotherServicesOpenTransactionDoesNotHoldTheFeedBack() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("horizon-other")) { otherClient, otherSchema in
            try await TestDatabase.withService(TestDatabase.uniqueService("horizon")) { client, schema in
                let logger = TestDatabase.logger
                let feed = OutboxFeed(client: client, schema: schema, logger: logger)
                let (opened, open) = AsyncStream.makeStream(of: Void.self)
                let (released, release) = AsyncStream.makeStream(of: Void.self)
                let other = Task {
                    try await otherClient.withTransaction(logger: logger) { connection in
                        try await Outbox(schema: otherSchema).enqueue(messages(1, prefix: "other", topic: "t"), on: connection, logger: logger)
                        open.yield()
                        for await _ in released { break }
                    }
                }
                for await _ in opened { break }
                try await client.withTransaction(logger: logger) { connection in
                    try await Outbox(schema: schema).enqueue(messages(1, prefix: "ours", topic: "t"), on: connection, logger: logger)
                }
                let read = try await feed.read(inFlight: [], limit: 10)
                release.yield()
                try await other.value
                #expect(read.map { String(decoding: $0.message.value ?? [], as: UTF8.self) } == ["ours-0"], "read while the other service's transaction was open")
            }
        }
    }

    @Test func theOutboxLosesNothingWhileTheBrokerIsDown() async throws {
        let broker = try TestTansu.start()
        defer { broker.stop() }
        let topic = "outage-\(UUID().uuidString.prefix(6).lowercased())"
        try await broker.createTopic(topic)

        try await TestDatabase.withService(TestDatabase.uniqueService("outbox")) { client, schema in
            // A short delivery timeout lets the relay notice quickly that the restarted broker
            // forgot the producer's idempotence state, and recreate the client.
            let producer = try KafkaProducer(configuration: .init(client: kafkaClient(broker.address), deliveryTimeout: .seconds(10)), logger: TestDatabase.logger)
            let relay = OutboxRelay(client: client, schema: schema, producer: producer, logger: TestDatabase.logger, pollInterval: .milliseconds(200))
            let relayTask = Task { try await relay.run() }
            let outbox = Outbox(schema: schema)

            try await client.withTransaction(logger: TestDatabase.logger) { connection in
                try await outbox.enqueue(messages(10, prefix: "before", topic: topic), on: connection, logger: TestDatabase.logger)
            }
            try await waitUntil("the first batch is published") { try await unpublished(client, schema) == 0 }

            broker.stop()
            try await client.withTransaction(logger: TestDatabase.logger) { connection in
                try await outbox.enqueue(messages(10, prefix: "during", topic: topic), on: connection, logger: TestDatabase.logger)
            }
            try await Task.sleep(for: .seconds(3))
            #expect(try await unpublished(client, schema) == 10, "nothing is marked published while the broker is down")

            try broker.restart()
            try await broker.createTopic(topic)
            try await waitUntil("the outage batch is published", limit: .seconds(60)) { try await unpublished(client, schema) == 0 }
            relayTask.cancel()
            _ = await relayTask.result
            await producer.shutdown()

            // The restarted broker starts empty (memory storage): it must hold every event written
            // during the outage.
            let consumer = try KafkaConsumer(
                configuration: .init(
                    client: kafkaClient(broker.address), groupID: "check-\(topic)", topics: [topic],
                    sessionTimeout: .seconds(6), heartbeatInterval: .milliseconds(500)), logger: TestDatabase.logger)
            var seen = Set<String>()
            let deadline = ContinuousClock.now + .seconds(30)
            for await batch in consumer.batches {
                seen.formUnion(batch.messages.map { String(decoding: $0.value ?? [], as: UTF8.self) })
                if seen.isSuperset(of: (0..<10).map { "during-\($0)" }) || ContinuousClock.now > deadline { break }
            }
            await consumer.close()
            #expect(seen.isSuperset(of: (0..<10).map { "during-\($0)" }), "missing: \(Set((0..<10).map { "during-\($0)" }).subtracting(seen).sorted())")
        }
    }

    @Test func aRedeliveredBatchIsAppliedOnce() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("inbox"), migrations: [Self.appliedTable]) { client, schema in
            let calls = Mutex(0)
            let inbox = InboxTransaction(
                client: client, schema: schema, group: "g", deadLetterTopic: "dlq", logger: TestDatabase.logger
            ) { message, connection in
                calls.withLock { $0 += 1 }
                let id = InboxMetadata(of: message).eventID
                try await connection.query(
                    "INSERT INTO \(unescaped: schema.name).applied (event_id, body) VALUES (\(id), \(String(decoding: message.value ?? [], as: UTF8.self)))",
                    logger: TestDatabase.logger)
                return .applied
            }
            let batch = KafkaConsumerBatch(
                messages: (0..<3).map {
                    KafkaConsumerMessage(
                        topic: "t", partition: .init(0), offset: .init(Int64($0)), value: Array("body-\($0)".utf8), headers: [KafkaHeader(key: "ce_id", string: "evt-\($0)")])
                })
            try await inbox.apply(batch)
            try await inbox.apply(batch)

            #expect(calls.withLock { $0 } == 3, "the handler ran once per event")
            #expect(try await client.strings("SELECT count(*)::text FROM \(unescaped: schema.name).applied") == ["3"])
            #expect(try await client.strings("SELECT outcome FROM \(unescaped: schema.name).inbox ORDER BY event_id") == ["applied", "applied", "applied"])
        }
    }

    /// Claims are written with the outcome most events of the previous batch had; only events
    /// that end otherwise are written a second time, and every event ends with its own outcome.
    @Test func inboxRowsAreWrittenOnceWhenTheirOutcomeIsTheExpectedOne() async throws {
        let countUpdates = Migration(
            version: 101, name: "count_inbox_updates",
            sql: """
                CREATE TABLE inbox_updates (event_id text NOT NULL);
                CREATE FUNCTION count_inbox_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
                BEGIN
                    INSERT INTO inbox_updates VALUES (NEW.event_id);
                    RETURN NEW;
                END $fn$;
                CREATE TRIGGER inbox_updated BEFORE UPDATE ON inbox FOR EACH ROW EXECUTE FUNCTION count_inbox_update();
                """)
        try await TestDatabase.withService(TestDatabase.uniqueService("forecast"), migrations: [countUpdates]) { client, schema in
            let inbox = InboxTransaction(
                client: client, schema: schema, group: "g", deadLetterTopic: "dlq", logger: TestDatabase.logger
            ) { message, _ in
                String(decoding: message.value ?? [], as: UTF8.self).hasPrefix("skip") ? .ignored : .applied
            }
            var offset: Int64 = 0
            func batch(_ bodies: [String]) -> KafkaConsumerBatch {
                KafkaConsumerBatch(
                    messages: bodies.map { body in
                        offset += 1
                        return KafkaConsumerMessage(
                            topic: "t", partition: .init(0), offset: .init(offset), value: Array(body.utf8),
                            headers: [KafkaHeader(key: "ce_id", string: "evt-\(offset)")])
                    })
            }
            let first = batch(["pay", "pay", "skip", "pay"])  // claimed as applied: 1 correction
            try await inbox.apply(first)
            try await inbox.apply(batch(["skip", "pay", "skip", "skip"]))  // still applied: 3 corrections
            try await inbox.apply(batch(["skip", "skip", "skip", "skip"]))  // now claimed as ignored: none
            try await inbox.apply(batch(["pay", "skip", "skip"]))  // still ignored: 1 correction
            try await inbox.apply(first)  // a redelivery: nothing written

            let outcomes = try await client.strings("SELECT outcome FROM \(unescaped: schema.name).inbox ORDER BY kafka_offset")
            #expect(
                outcomes == [
                    "applied", "applied", "ignored", "applied", "ignored", "applied", "ignored", "ignored",
                    "ignored", "ignored", "ignored", "ignored", "applied", "ignored", "ignored",
                ])
            let rewritten = try await client.strings("SELECT event_id FROM \(unescaped: schema.name).inbox_updates ORDER BY event_id")
            #expect(rewritten == ["evt-13", "evt-3", "evt-5", "evt-7", "evt-8"])
        }
    }

    /// A handler that swallows a failed statement's error leaves the transaction aborted, and
    /// PostgreSQL answers the `COMMIT` of an aborted transaction with a rollback, not an error.
    /// The event must not vanish that way (offsets stored, nothing recorded): it ends
    /// dead-lettered, with a trace, even when its outcome matched the forecast.
    @Test func aHandlerThatSwallowsADatabaseErrorDoesNotLoseTheEvent() async throws {
        let brokers = try #require(TestDatabase.brokers, "TALLY_TEST_KAFKA_BROKERS is not set")
        let deadLetters = try await newDeadLetterTopic(brokers)
        try await TestDatabase.withService(TestDatabase.uniqueService("swallow")) { client, schema in
            let inbox = InboxTransaction(
                client: client, schema: schema, group: "g", deadLetterTopic: deadLetters, logger: TestDatabase.logger
            ) { _, connection in
                _ = try? await connection.query("SELECT 1 / 0", logger: TestDatabase.logger)
                return .applied
            }
            try await inbox.apply(
                KafkaConsumerBatch(messages: [
                    KafkaConsumerMessage(
                        topic: "t", partition: .init(0), offset: .init(7), value: Array("body".utf8), headers: [KafkaHeader(key: "ce_id", string: "evt-swallowed")])
                ]))
            #expect(try await client.strings("SELECT outcome FROM \(unescaped: schema.name).inbox WHERE event_id = 'evt-swallowed'") == ["dead-lettered"])
        }
    }

    /// A payload too large for the row (a raw webhook's event is ~2.6 KB) is stored out of line
    /// and uncompressed, so the relay's mark copies a pointer and no one compresses it; a small
    /// payload stays in the row.
    @Test func largeOutboxPayloadsAreStoredOutOfLineAndUncompressed() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("toast")) { client, schema in
            let logger = TestDatabase.logger
            // Compressible like the JSON of an event: with the default storage, pglz shrank it
            // below the limit and it stayed in the row, compressed.
            let large = Array(String(repeating: "{\"amount\":1099,\"currency\":\"usd\"},", count: 90).utf8)
            let small = Array("{\"amount\":1099}".utf8)
            try await client.withTransaction(logger: logger) { connection in
                try await Outbox(schema: schema).enqueue(
                    [
                        OutboxMessage(eventID: "large", topic: "t", key: "k", payload: large),
                        OutboxMessage(eventID: "small", topic: "t", key: "k", payload: small),
                    ], on: connection, logger: logger)
            }
            let stored = try await client.strings(
                """
                SELECT event_id || ' ' || octet_length(payload) || ' ' || COALESCE(pg_column_compression(payload), 'uncompressed')
                FROM \(unescaped: schema.name).outbox ORDER BY event_id
                """)
            #expect(stored == ["large \(large.count) uncompressed", "small \(small.count) uncompressed"])
            let outOfLine = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                let toast = try #require(
                    try await admin.strings(
                        """
                        SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = '\(unescaped: schema.name).outbox'::regclass
                        """
                    ).first)
                return try await admin.strings("SELECT count(DISTINCT chunk_id)::text FROM \(unescaped: toast)")
            }
            #expect(outOfLine == ["1"], "the large payload, and only it, is in the TOAST table")
        }
    }

    @Test func aStalledTransactionIsAbandonedAndTheBatchStillAppliesOnce() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("stall"), migrations: [Self.appliedTable]) { client, schema in
            let calls = Mutex(0)
            let inbox = InboxTransaction(
                client: client, schema: schema, group: "g", deadLetterTopic: "dlq", transactionDeadline: .milliseconds(300),
                logger: TestDatabase.logger
            ) { message, connection in
                let call = calls.withLock {
                    $0 += 1; return $0
                }
                if call == 1 {
                    // The first attempt hangs past the deadline and ignores cancellation, as a
                    // query on a half-open connection would; it finishes (and commits) later.
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) { continuation.resume() }
                    }
                }
                let id = InboxMetadata(of: message).eventID
                try await connection.query(
                    "INSERT INTO \(unescaped: schema.name).applied (event_id, body) VALUES (\(id), \(String(decoding: message.value ?? [], as: UTF8.self)))",
                    logger: TestDatabase.logger)
                return .applied
            }
            let batch = KafkaConsumerBatch(
                messages: (0..<3).map {
                    KafkaConsumerMessage(
                        topic: "t", partition: .init(0), offset: .init(Int64($0)), value: Array("body-\($0)".utf8), headers: [KafkaHeader(key: "ce_id", string: "evt-\($0)")])
                })
            let started = ContinuousClock.now
            try await inbox.apply(batch)
            let waited = ContinuousClock.now - started
            // Let the abandoned attempt finish; its late commit must not double anything.
            try await Task.sleep(for: .seconds(2))

            #expect(calls.withLock { $0 } >= 2, "the batch was retried after the deadline")
            #expect(waited < .seconds(10))
            #expect(try await client.strings("SELECT event_id FROM \(unescaped: schema.name).applied ORDER BY event_id") == ["evt-0", "evt-1", "evt-2"])
            #expect(try await client.strings("SELECT outcome FROM \(unescaped: schema.name).inbox ORDER BY event_id") == ["applied", "applied", "applied"])
        }
    }

    @Test func aPoisonEventGoesToTheDeadLetterTopicAndTheRestApply() async throws {
        let brokers = try #require(TestDatabase.brokers, "TALLY_TEST_KAFKA_BROKERS is not set")
        let deadLetters = try await newDeadLetterTopic(brokers)

        try await TestDatabase.withService(TestDatabase.uniqueService("poison"), migrations: [Self.appliedTable]) { client, schema in
            let inbox = InboxTransaction(
                client: client, schema: schema, group: "g", deadLetterTopic: deadLetters, logger: TestDatabase.logger
            ) { message, connection in
                let body = String(decoding: message.value ?? [], as: UTF8.self)
                guard body != "poison" else { throw StorageTestError("cannot parse amount 'twelve'") }
                try await connection.query(
                    "INSERT INTO \(unescaped: schema.name).applied (event_id, body) VALUES (\(InboxMetadata(of: message).eventID), \(body))", logger: TestDatabase.logger)
                return .applied
            }
            let bodies = ["good-1", "poison", "good-2"]
            let batch = KafkaConsumerBatch(
                messages: bodies.enumerated().map { index, body in
                    KafkaConsumerMessage(topic: "t", partition: .init(2), offset: .init(Int64(40 + index)), key: Array("k".utf8), value: Array(body.utf8))
                })
            try await inbox.apply(batch)
            // The dead letter was queued in the outbox with the inbox row; the relay publishes it.
            let producer = try KafkaProducer(configuration: .init(client: kafkaClient(brokers)), logger: TestDatabase.logger)
            let relay = OutboxRelay(client: client, schema: schema, producer: producer, logger: TestDatabase.logger, pollInterval: .milliseconds(200))
            let relayTask = Task { try await relay.run() }
            try await waitUntil("the dead letter is published") { try await unpublished(client, schema) == 0 }
            relayTask.cancel()
            _ = await relayTask.result
            await producer.shutdown()

            #expect(try await client.strings("SELECT body FROM \(unescaped: schema.name).applied ORDER BY body") == ["good-1", "good-2"])
            #expect(try await client.strings("SELECT outcome FROM \(unescaped: schema.name).inbox WHERE event_id = 't/2/41'") == ["dead-lettered"])

            let consumer = try KafkaConsumer(
                configuration: .init(
                    client: kafkaClient(brokers), groupID: "read-\(deadLetters)", topics: [deadLetters],
                    sessionTimeout: .seconds(6), heartbeatInterval: .milliseconds(500)), logger: TestDatabase.logger)
            var dead: [KafkaConsumerMessage] = []
            for await batch in consumer.batches {
                dead += batch.messages
                break
            }
            await consumer.close()
            #expect(dead.count == 1)
            #expect(dead.first?.value == Array("poison".utf8))
            #expect(dead.first?.headers.first(named: "x-tally-dlq-reason")?.stringValue?.contains("twelve") == true)
            #expect(dead.first?.headers.first(named: "x-tally-dlq-offset")?.stringValue == "41")
        }
    }
}

@Suite struct DeadlineTests {
    /// Stands in for a query on a half-open connection: not resumed within the test, whatever
    /// cancellation says.
    static func ignoringCancellationForTenSeconds() async -> Int {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().asyncAfter(deadline: .now() + 10) { continuation.resume() }
        }
        return 1
    }

    @Test func aBodyThatIgnoresCancellationIsAbandonedAtTheDeadline() async throws {
        let started = ContinuousClock.now
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(200)) { await Self.ignoringCancellationForTenSeconds() }
        }
        // Generous: parallel tests can keep the cooperative pool busy (a CI run saw 7.2 s); the
        // body itself takes 10 s, so anything below that shows the caller did not wait for it.
        #expect(ContinuousClock.now - started < .seconds(9), "the caller stopped waiting at the deadline")
    }

    /// The watcher stops when no timeout is pending; a later timeout must start it again.
    @Test func theWatcherStopsWhenIdleAndStartsAgainForANewTimeout() async throws {
        let watch = DeadlineWatch()
        let entry = watch.add(expiresAt: .now + .seconds(60)) {}
        #expect(watch.isWatching)
        watch.remove(entry)
        let idleBy = ContinuousClock.now + .seconds(15)  // generous for a loaded machine; it stops within one tick when idle
        while watch.isWatching, ContinuousClock.now < idleBy { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!watch.isWatching, "nothing pending: the watcher stopped")

        // Generous: with every suite running at once the cooperative pool has stalled for 6 s.
        try await withDeadline(.seconds(30)) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                _ = watch.add(expiresAt: .now + .milliseconds(50)) { continuation.resume() }
            }
        }
    }

    /// A timeout earlier than every pending one is not held back by them, and none fires early.
    @Test func anEarlierTimeoutFiresOnTimeBehindALaterOne() async throws {
        let watch = DeadlineWatch()
        let later = watch.add(expiresAt: .now + .seconds(60)) {}
        let added = ContinuousClock.now
        let firedAt = try await withDeadline(.seconds(30)) {  // generous, as above
            await withCheckedContinuation { (continuation: CheckedContinuation<ContinuousClock.Instant, Never>) in
                _ = watch.add(expiresAt: added + .milliseconds(300)) { continuation.resume(returning: .now) }
            }
        }
        #expect(firedAt - added >= .milliseconds(300), "a timeout never fires before its instant")
        #expect(watch.isWatching, "the later timeout is still pending")
        watch.remove(later)
    }

    /// The same through `withDeadline` and the shared watcher.
    @Test func aDeadlineSetAfterAnEarlierCallFinishedStillExpires() async throws {
        #expect(try await withDeadline(.seconds(5)) { 7 } == 7)
        try await Task.sleep(for: DeadlineWatch.resolution * 3)
        let started = ContinuousClock.now
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(100)) { await Self.ignoringCancellationForTenSeconds() }
        }
        #expect(ContinuousClock.now - started < .seconds(6))
    }

    /// Cancelling the caller cancels the body, whose outcome (here its cancellation) is returned.
    @Test func cancellingTheCallerCancelsTheBody() async throws {
        let call = Task {
            try await withDeadline(.seconds(30)) { () async throws -> Int in
                try await Task.sleep(for: .seconds(20))
                return 1
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        call.cancel()
        let started = ContinuousClock.now
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func aBodyThatFinishesInTimeReturnsItsValueOrError() async throws {
        #expect(try await withDeadline(.seconds(5)) { 42 } == 42)
        await #expect(throws: StorageTestError.self) {
            try await withDeadline(.seconds(5)) { () async throws -> Int in throw StorageTestError("boom") }
        }
    }
}

@Suite struct DoorbellTests {
    @Test func aWaitEndsAtARingOrAtItsTimeout() async throws {
        let bell = Doorbell()
        var started = ContinuousClock.now
        await bell.wait(upTo: .milliseconds(200))
        let timedOut = ContinuousClock.now - started
        #expect(timedOut >= .milliseconds(200), "no ring: the wait lasts its timeout")
        // Generous: with every suite starting at once on two cores, a task can wait seconds for
        // a thread; the bound only catches a wait that ignores its timeout.
        #expect(timedOut < .seconds(10))

        started = ContinuousClock.now
        let ringer = Task {
            try await Task.sleep(for: .milliseconds(100))
            bell.ring()
        }
        await bell.wait(upTo: .seconds(20))
        #expect(ContinuousClock.now - started < .seconds(10), "the ring ended the wait long before its 20 s timeout")
        try await ringer.value
    }

    @Test func aRingWhileNobodyWaitsIsRememberedOnce() async {
        let bell = Doorbell()
        bell.ring()
        bell.ring()
        var started = ContinuousClock.now
        await bell.wait(upTo: .seconds(20))
        #expect(ContinuousClock.now - started < .seconds(2), "the earlier ring ends the next wait at once")
        started = ContinuousClock.now
        await bell.wait(upTo: .milliseconds(150))
        #expect(ContinuousClock.now - started >= .milliseconds(150), "two rings before a wait count as one")
    }
}
