import Foundation
import Kafka
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// What a handler did with one event; recorded in the inbox next to the event id.
public enum InboxOutcome: String, Sendable {
    /// The event changed state.
    case applied
    /// The event was understood and deliberately not acted on.
    case ignored
}

/// Applies one event inside the inbox transaction. Throwing marks the event as poison: it goes
/// to the dead-letter topic with the error as its reason, and the partition moves on.
public typealias InboxHandler = @Sendable (KafkaConsumerMessage, PostgresConnection) async throws -> InboxOutcome

/// Applies the new events of one batch, in batch order, inside the inbox transaction, and returns
/// one outcome per event in the same order. A handler that writes the same kind of row for many
/// events can write them with one statement. Throwing fails the whole batch: the consumer then
/// retries each event on its own (a batch of one), and dead-letters an event whose batch of one
/// still throws. A handler that catches the error of a failed statement leaves the transaction
/// aborted; the consumer's next statement then fails the batch the same way.
public typealias InboxBatchHandler = @Sendable ([KafkaConsumerMessage], PostgresConnection) async throws -> [InboxOutcome]

/// A batch handler returned a different number of outcomes than it was given events.
public struct InboxOutcomeCountMismatch: Error, CustomStringConvertible {
    public let events: Int
    public let outcomes: Int
    public var description: String { "the batch handler returned \(outcomes) outcomes for \(events) events" }
}

extension KafkaConsumerMessage {
    /// Runs a one-event handler for each message in order: the batch form of `InboxHandler`.
    public static func eachApplied(by handler: @escaping InboxHandler) -> InboxBatchHandler {
        { messages, connection in
            var outcomes: [InboxOutcome] = []
            outcomes.reserveCapacity(messages.count)
            for message in messages { outcomes.append(try await handler(message, connection)) }
            return outcomes
        }
    }
}

/// Consumes topics so that every event's effects happen exactly once.
///
/// For each batch, one transaction records the event ids in the `inbox` table and runs the
/// handler for the ids not seen before; only after that commit is the Kafka offset stored. A
/// redelivered event is therefore skipped, and a crash before the commit redelivers the batch.
/// While the database is unreachable, the batch waits and retries; it is never dead-lettered for
/// that. A transaction that gets no answer within `transactionDeadline` (a connection left
/// half-open by a database crash) is abandoned and retried the same way, so a lost connection
/// can never stall the partition; the inbox ids make a late commit of the abandoned attempt harmless. If the batch transaction fails otherwise, each event is retried in its own transaction; an event whose
/// handler still throws is published to `deadLetterTopic` (with `x-tally-dlq-*` headers naming
/// the reason and origin), recorded as `dead-lettered`, and its partition continues.
public final class InboxConsumer: Service, Sendable {
    private let configuration: KafkaConsumerConfiguration
    private let client: PostgresClient
    private let schema: ServiceSchema
    private let producer: KafkaProducer
    private let deadLetterTopic: String
    private let handler: InboxBatchHandler
    private let logger: Logger
    private let consumerBox = ConsumerBox()
    private let applied: Counter
    private let skipped: Counter
    private let deadLettered: Counter
    private let stalls: Counter
    private let transactionDeadline: Duration
    /// The outcome most events of the last batch had: claims are written with it, so only the
    /// events whose outcome differs need a second write.
    private let expectedOutcome = Mutex(InboxOutcome.applied)

    public convenience init(configuration: KafkaConsumerConfiguration, client: PostgresClient, schema: ServiceSchema, producer: KafkaProducer,
                            deadLetterTopic: String, transactionDeadline: Duration = .seconds(30), logger: Logger,
                            handler: @escaping InboxHandler) {
        self.init(configuration: configuration, client: client, schema: schema, producer: producer, deadLetterTopic: deadLetterTopic,
                  transactionDeadline: transactionDeadline, logger: logger, batchHandler: KafkaConsumerMessage.eachApplied(by: handler))
    }

    public init(configuration: KafkaConsumerConfiguration, client: PostgresClient, schema: ServiceSchema, producer: KafkaProducer,
                deadLetterTopic: String, transactionDeadline: Duration = .seconds(30), logger: Logger,
                batchHandler handler: @escaping InboxBatchHandler) {
        self.transactionDeadline = transactionDeadline
        self.configuration = configuration
        self.client = client
        self.schema = schema
        self.producer = producer
        self.deadLetterTopic = deadLetterTopic
        self.handler = handler
        self.logger = logger
        let dimensions = [("group", configuration.groupID)]
        self.applied = Counter(label: "inbox_events_applied_total", dimensions: dimensions)
        self.skipped = Counter(label: "inbox_events_duplicate_total", dimensions: dimensions)
        self.deadLettered = Counter(label: "inbox_events_dead_lettered_total", dimensions: dimensions)
        self.stalls = Counter(label: "inbox_transactions_abandoned_total", dimensions: dimensions)
    }

    /// The partitions currently owned; empty before the group assigned any.
    public var assignment: Set<KafkaTopicPartition> { consumerBox.consumer?.assignment ?? [] }

    public func run() async throws {
        try await KafkaConsumer.withConsumer(configuration: configuration, logger: logger) { consumer in
            consumerBox.consumer = consumer
            try await withGracefulShutdownHandler {
                for await batch in consumer.batches {
                    try await self.apply(batch)
                    try consumer.store(batch)
                }
            } onGracefulShutdown: {
                Task { await consumer.close() }
            }
        }
    }

    /// Applies a batch exactly once in effect. Exposed for tests and replay tooling.
    ///
    /// While the database is unreachable or aborts the work (`TransientFailure`), the batch is
    /// retried with backoff for as long as it takes; only an event whose own handling fails is
    /// dead-lettered.
    public func apply(_ batch: KafkaConsumerBatch) async throws {
        var attempt = 0
        while true {
            do {
                try await transaction { connection in
                    try await self.applyAll(batch.messages, on: connection)
                }
                return
            } catch is DeadlineExceeded {
                // Too slow as a whole (or a hung connection): go event by event, each with its
                // own deadline, so a large healthy batch cannot time out forever.
                break
            } catch where TransientFailure.isTransient(error) {
                attempt += 1
                logger.warning("inbox batch hit a transient database failure; retrying", metadata: ["attempt": "\(attempt)", "error": "\(String(reflecting: error))"])
                try await Task.sleep(for: TransientFailure.backoff(attempt: attempt))
            } catch {
                logger.warning("inbox batch failed; retrying its events one by one", metadata: ["error": "\(String(reflecting: error))"])
                break
            }
        }
        for message in batch.messages {
            try await applyAlone(message)
        }
    }

    /// One event in its own transaction: retried while failures are transient, dead-lettered
    /// when its handling itself fails.
    private func applyAlone(_ message: KafkaConsumerMessage) async throws {
        var attempt = 0
        while true {
            do {
                try await transaction { connection in
                    try await self.applyOne(message, on: connection)
                }
                return
            } catch where TransientFailure.isTransient(error) {
                attempt += 1
                try await Task.sleep(for: TransientFailure.backoff(attempt: attempt))
            } catch let failure as PostgresTransactionError {
                // Report what the handler (or the database) said, not the wrapper.
                let cause: any Error = failure.closureError ?? failure.commitError ?? failure.beginError ?? failure
                try await deadLetter(message, reason: String(describing: cause))
                return
            } catch {
                try await deadLetter(message, reason: String(describing: error))
                return
            }
        }
    }

    /// One inbox transaction, abandoned (and reported as `DeadlineExceeded`) when the database
    /// does not answer within `transactionDeadline`.
    private func transaction(_ body: @escaping @Sendable (PostgresConnection) async throws -> Void) async throws {
        do {
            try await withDeadline(transactionDeadline) {
                try await self.client.withTransaction(logger: self.logger) { connection in try await body(connection) }
            }
        } catch let error as DeadlineExceeded {
            stalls.increment()
            logger.error("inbox transaction abandoned: the database did not answer in time; retrying", metadata: ["limit": "\(error.limit)"])
            throw error
        }
    }

    /// The batch in one transaction, in three steps whatever its size: claim every event id in
    /// the inbox with one statement, run the handler once for the events claimed now (in batch
    /// order, once per id even when the batch repeats one), then correct the outcomes that
    /// differ from the one the claims were written with.
    ///
    /// Claims carry the outcome most events of the previous batch had, so a consumer whose
    /// events mostly end the same way writes each inbox row once. The claim and the correction
    /// are in one transaction: no other session ever sees a claimed row with a guessed outcome.
    private func applyAll(_ messages: [KafkaConsumerMessage], on connection: PostgresConnection) async throws {
        let ids = messages.map(Self.eventID(of:))
        let expected = expectedOutcome.withLock { $0 }
        var claimed = Set<String>()
        for try await id in try await connection.query("""
            INSERT INTO \(unescaped: schema.name).inbox (event_id, topic, kafka_partition, kafka_offset, outcome)
            SELECT m.event_id, m.topic, m.kafka_partition, m.kafka_offset, \(expected.rawValue)
            FROM unnest(\(ids)::text[], \(messages.map(\.topic))::text[], \(messages.map { $0.partition.rawValue })::int4[],
                        \(messages.map { $0.offset.rawValue })::int8[]) AS m(event_id, topic, kafka_partition, kafka_offset)
            ON CONFLICT (event_id) DO NOTHING
            RETURNING event_id
            """, logger: logger).decode(String.self) {
            claimed.insert(id)
        }
        var appliedIDs: [String] = [], fresh: [KafkaConsumerMessage] = []
        for (id, message) in zip(ids, messages) {
            guard claimed.remove(id) != nil else {
                skipped.increment()
                continue
            }
            appliedIDs.append(id)
            fresh.append(message)
        }
        guard !fresh.isEmpty else { return }
        let outcomes = try await handler(fresh, connection)
        guard outcomes.count == fresh.count else { throw InboxOutcomeCountMismatch(events: fresh.count, outcomes: outcomes.count) }
        try await correctOutcomes(ids: appliedIDs, outcomes: outcomes, claimedAs: expected, on: connection)
        expectedOutcome.withLock { $0 = Self.mostCommon(outcomes, tieGoesTo: expected) }
        applied.increment(by: appliedIDs.count)
    }

    private func applyOne(_ message: KafkaConsumerMessage, on connection: PostgresConnection) async throws {
        let eventID = Self.eventID(of: message)
        let expected = expectedOutcome.withLock { $0 }
        let rows = try await connection.query("""
            INSERT INTO \(unescaped: schema.name).inbox (event_id, topic, kafka_partition, kafka_offset, outcome)
            VALUES (\(eventID), \(message.topic), \(message.partition.rawValue), \(message.offset.rawValue), \(expected.rawValue))
            ON CONFLICT (event_id) DO NOTHING RETURNING event_id
            """, logger: logger)
        var isNew = false
        for try await _ in rows { isNew = true }
        guard isNew else {
            skipped.increment()
            return
        }
        let outcomes = try await handler([message], connection)
        guard outcomes.count == 1 else { throw InboxOutcomeCountMismatch(events: 1, outcomes: outcomes.count) }
        try await correctOutcomes(ids: [eventID], outcomes: outcomes, claimedAs: expected, on: connection)
        applied.increment()
    }

    /// Rewrites the outcome of the claimed rows whose handler outcome is not the one they were
    /// claimed with, in one statement.
    ///
    /// The statement runs even when every outcome matched: PostgreSQL answers `COMMIT` in a
    /// transaction that an error aborted with a rollback, not an error, so a handler that
    /// swallowed a failed statement would otherwise end in a silent rollback after which the
    /// offsets are stored and the batch is lost. Any statement after the handler fails in an
    /// aborted transaction, and the batch is retried.
    private func correctOutcomes(ids: [String], outcomes: [InboxOutcome], claimedAs expected: InboxOutcome,
                                 on connection: PostgresConnection) async throws {
        var differingIDs: [String] = [], differing: [String] = []
        for (id, outcome) in zip(ids, outcomes) where outcome != expected {
            differingIDs.append(id)
            differing.append(outcome.rawValue)
        }
        try await connection.query("""
            UPDATE \(unescaped: schema.name).inbox AS inbox SET outcome = v.outcome
            FROM unnest(\(differingIDs)::text[], \(differing)::text[]) AS v(event_id, outcome)
            WHERE inbox.event_id = v.event_id
            """, logger: logger)
    }

    /// The outcome most of `outcomes` have; `current` unless another one is strictly more
    /// common, so the forecast does not flip back and forth on an even batch.
    static func mostCommon(_ outcomes: [InboxOutcome], tieGoesTo current: InboxOutcome) -> InboxOutcome {
        var counts: [InboxOutcome: Int] = [:]
        for outcome in outcomes { counts[outcome, default: 0] += 1 }
        guard let leader = counts.max(by: { $0.value < $1.value }), leader.value > counts[current, default: 0] else { return current }
        return leader.key
    }

    private func deadLetter(_ message: KafkaConsumerMessage, reason: String) async throws {
        var headers = message.headers
        headers += [
            KafkaHeader(key: "x-tally-dlq-reason", string: String(reason.prefix(2000))),
            KafkaHeader(key: "x-tally-dlq-topic", string: message.topic),
            KafkaHeader(key: "x-tally-dlq-partition", string: String(message.partition.rawValue)),
            KafkaHeader(key: "x-tally-dlq-offset", string: String(message.offset.rawValue)),
            KafkaHeader(key: "x-tally-dlq-group", string: configuration.groupID),
        ]
        _ = try await producer.send(KafkaProducerMessage(topic: deadLetterTopic, key: message.key, value: message.value, headers: headers))
        let eventID = Self.eventID(of: message)
        var attempt = 0
        while true {
            do {
                try await transaction { connection in
                    try await connection.query("""
                        INSERT INTO \(unescaped: self.schema.name).inbox (event_id, topic, kafka_partition, kafka_offset, outcome)
                        VALUES (\(eventID), \(message.topic), \(message.partition.rawValue), \(message.offset.rawValue), 'dead-lettered')
                        ON CONFLICT (event_id) DO UPDATE SET outcome = 'dead-lettered'
                        """, logger: self.logger)
                }
                break
            } catch where TransientFailure.isTransient(error) {
                attempt += 1
                try await Task.sleep(for: TransientFailure.backoff(attempt: attempt))
            }
        }
        deadLettered.increment()
        logger.error("event sent to the dead-letter topic", metadata: [
            "event_id": "\(eventID)", "topic": "\(message.topic)", "partition": "\(message.partition)",
            "offset": "\(message.offset)", "dead_letter_topic": "\(deadLetterTopic)", "reason": "\(reason)",
        ])
    }

    /// The event's identity: the `ce_id` header, else the CloudEvents `id` in the JSON body, else
    /// its position (topic, partition, offset), which is stable across redeliveries.
    public static func eventID(of message: KafkaConsumerMessage) -> String {
        if let header = message.headers.first(named: "ce_id")?.stringValue, !header.isEmpty { return header }
        if let value = message.value,
           let object = try? JSONSerialization.jsonObject(with: Data(value)) as? [String: Any],
           let id = object["id"] as? String, !id.isEmpty {
            return id
        }
        return "\(message.topic)/\(message.partition.rawValue)/\(message.offset.rawValue)"
    }
}

/// Lets readiness checks see the consumer once `run()` created it.
private final class ConsumerBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: KafkaConsumer?
    var consumer: KafkaConsumer? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
