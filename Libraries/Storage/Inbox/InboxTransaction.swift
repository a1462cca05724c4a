import Contracts
import Foundation
import Kafka
import Logging
import Metrics
import PostgresNIO
import Synchronization

/// Applies one event inside the inbox transaction. Throwing marks the event as poison: it goes
/// to the dead-letter topic with the error as its reason, and the partition moves on.
public typealias InboxHandler = @Sendable (KafkaConsumerMessage, PostgresConnection) async throws -> InboxOutcome

/// Applies the new events of one batch, in batch order, inside the inbox transaction, and returns
/// one outcome per event in the same order. A handler that writes the same kind of row for many
/// events can write them with one statement. Throwing fails the whole batch: the inbox then
/// retries each event on its own (a batch of one), and dead-letters an event whose batch of one
/// still throws. A handler that catches the error of a failed statement leaves the transaction
/// aborted; the inbox's next statement then fails the batch the same way.
public typealias InboxBatchHandler = @Sendable ([KafkaConsumerMessage], PostgresConnection) async throws -> [InboxOutcome]

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

/// The consumer inbox's transaction: applies batches of events so that every event's effects
/// happen exactly once, whoever delivers them (the Kafka loop in `InboxConsumer`, a test, or a
/// replay tool). It needs PostgreSQL and nothing else.
///
/// For each batch, one transaction records the event ids in the `inbox` table and runs the
/// handler for the ids not seen before; a caller stores the Kafka offset only after `apply`
/// returns. A redelivered event is therefore skipped, and a crash before the commit redelivers
/// the batch. While the database is unreachable, the batch waits and retries; it is never
/// dead-lettered for that. A transaction that gets no answer within `transactionDeadline` (a
/// connection left half-open by a database crash) is abandoned and retried the same way, so a
/// lost connection can never stall the partition; the inbox ids make a late commit of the
/// abandoned attempt harmless. If the batch transaction fails otherwise, each event is retried in
/// its own transaction; an event whose handler still throws is written to the outbox for
/// `deadLetterTopic` (unchanged, with `DeadLetterHeaders`) and recorded as `dead-lettered` in the
/// same transaction, and the partition continues.
public final class InboxTransaction: Sendable {
    private let client: PostgresClient
    private let schema: ServiceSchema
    /// The consumer group, named in dead letters and metrics.
    private let group: String
    private let deadLetterTopic: String
    private let handler: InboxBatchHandler
    private let logger: Logger
    private let transactionDeadline: Duration
    private let applied: Counter
    private let skipped: Counter
    private let deadLettered: Counter
    private let stalls: Counter
    /// The outcome most events of the last batch had: claims are written with it, so only the
    /// events whose outcome differs need a second write.
    private let expectedOutcome = Mutex(InboxOutcome.applied)

    public convenience init(
        client: PostgresClient, schema: ServiceSchema, group: String, deadLetterTopic: String,
        transactionDeadline: Duration = .seconds(30), logger: Logger, handler: @escaping InboxHandler
    ) {
        self.init(
            client: client, schema: schema, group: group, deadLetterTopic: deadLetterTopic, transactionDeadline: transactionDeadline,
            logger: logger, batchHandler: KafkaConsumerMessage.eachApplied(by: handler))
    }

    public convenience init(
        client: PostgresClient, schema: ServiceSchema, group: String, deadLetterTopic: String,
        transactionDeadline: Duration = .seconds(30), logger: Logger, handlers: InboxEventHandlers
    ) {
        self.init(
            client: client, schema: schema, group: group, deadLetterTopic: deadLetterTopic, transactionDeadline: transactionDeadline,
            logger: logger, batchHandler: handlers.batchHandler)
    }

    public init(
        client: PostgresClient, schema: ServiceSchema, group: String, deadLetterTopic: String,
        transactionDeadline: Duration = .seconds(30), logger: Logger, batchHandler handler: @escaping InboxBatchHandler
    ) {
        self.client = client
        self.schema = schema
        self.group = group
        self.deadLetterTopic = deadLetterTopic
        self.handler = handler
        self.logger = logger
        self.transactionDeadline = transactionDeadline
        let dimensions = [("group", group)]
        self.applied = Counter(label: "inbox_events_applied_total", dimensions: dimensions)
        self.skipped = Counter(label: "inbox_events_duplicate_total", dimensions: dimensions)
        self.deadLettered = Counter(label: "inbox_events_dead_lettered_total", dimensions: dimensions)
        self.stalls = Counter(label: "inbox_transactions_abandoned_total", dimensions: dimensions)
    }

    /// Applies a consumer batch exactly once in effect (see `apply(_:)` for messages).
    public func apply(_ batch: KafkaConsumerBatch) async throws {
        try await apply(batch.messages)
    }

    /// Applies a batch exactly once in effect.
    ///
    /// While the database is unreachable or aborts the work (`TransientFailure`), the batch is
    /// retried with backoff for as long as it takes; only an event whose own handling fails is
    /// dead-lettered.
    public func apply(_ messages: [KafkaConsumerMessage]) async throws {
        guard !messages.isEmpty else { return }
        let metadata = messages.map(InboxMetadata.init(of:))
        var attempt = 0
        while true {
            do {
                try await transaction { connection in
                    try await self.applyAll(messages, metadata: metadata, updatingForecast: true, on: connection)
                }
                return
            } catch is DeadlineExceeded {
                // Too slow as a whole (or a hung connection): go event by event, each with its
                // own deadline, so a large healthy batch cannot time out forever.
                break
            } catch let error where TransientFailure.isTransient(error) {
                attempt += 1
                logger.warning("inbox batch hit a transient database failure; retrying", metadata: ["attempt": "\(attempt)", "error": "\(String(reflecting: error))"])
                try await Task.sleep(for: TransientFailure.backoff(attempt: attempt))
            } catch {
                logger.warning("inbox batch failed; retrying its events one by one", metadata: ["error": "\(String(reflecting: error))"])
                break
            }
        }
        for (message, item) in zip(messages, metadata) {
            try await applyAlone(message, metadata: item)
        }
    }

    /// One event in its own transaction: retried while failures are transient, dead-lettered
    /// when its handling itself fails.
    private func applyAlone(_ message: KafkaConsumerMessage, metadata: InboxMetadata) async throws {
        var attempt = 0
        while true {
            do {
                try await transaction { connection in
                    try await self.applyAll([message], metadata: [metadata], updatingForecast: false, on: connection)
                }
                return
            } catch let error where TransientFailure.isTransient(error) {
                attempt += 1
                try await Task.sleep(for: TransientFailure.backoff(attempt: attempt))
            } catch let failure as PostgresTransactionError {
                // Report what the handler (or the database) said, not the wrapper.
                let cause: any Error = failure.closureError ?? failure.commitError ?? failure.beginError ?? failure
                try await deadLetter(metadata, reason: String(describing: cause))
                return
            } catch {
                try await deadLetter(metadata, reason: String(describing: error))
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
    /// Retrying events one by one (after a failed batch) leaves the forecast as it was.
    private func applyAll(
        _ messages: [KafkaConsumerMessage], metadata: [InboxMetadata], updatingForecast: Bool,
        on connection: PostgresConnection
    ) async throws {
        let expected = expectedOutcome.withLock { $0 }
        var claimed = Set<String>()
        // An empty type is stored as NULL: a text array cannot carry NULLs from here.
        for try await id in try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).inbox (event_id, event_type, topic, kafka_partition, kafka_offset, outcome)
            SELECT m.event_id, NULLIF(m.event_type, ''), m.topic, m.kafka_partition, m.kafka_offset, \(expected.rawValue)
            FROM unnest(\(metadata.map(\.eventID))::text[], \(metadata.map { $0.eventType ?? "" })::text[], \(metadata.map(\.topic))::text[],
                        \(metadata.map(\.partition))::int4[], \(metadata.map(\.offset))::int8[])
                 AS m(event_id, event_type, topic, kafka_partition, kafka_offset)
            ON CONFLICT (event_id) DO NOTHING
            RETURNING event_id
            """, logger: logger
        ).decode(String.self) {
            claimed.insert(id)
        }
        var appliedIDs: [String] = [], fresh: [KafkaConsumerMessage] = []
        for (item, message) in zip(metadata, messages) {
            guard claimed.remove(item.eventID) != nil else {
                skipped.increment()
                continue
            }
            appliedIDs.append(item.eventID)
            fresh.append(message)
        }
        guard !fresh.isEmpty else { return }
        let outcomes = try await handler(fresh, connection)
        guard outcomes.count == fresh.count else { throw InboxOutcomeCountMismatch(events: fresh.count, outcomes: outcomes.count) }
        try await correctOutcomes(ids: appliedIDs, outcomes: outcomes, claimedAs: expected, on: connection)
        if updatingForecast { expectedOutcome.withLock { $0 = Self.mostCommon(outcomes, tieGoesTo: expected) } }
        applied.increment(by: appliedIDs.count)
    }

    /// Rewrites the outcome of the claimed rows whose handler outcome is not the one they were
    /// claimed with, in one statement.
    ///
    /// The statement runs even when every outcome matched: PostgreSQL answers `COMMIT` in a
    /// transaction that an error aborted with a rollback, not an error, so a handler that
    /// swallowed a failed statement would otherwise end in a silent rollback after which the
    /// offsets are stored and the batch is lost. Any statement after the handler fails in an
    /// aborted transaction, and the batch is retried.
    private func correctOutcomes(
        ids: [String], outcomes: [InboxOutcome], claimedAs expected: InboxOutcome,
        on connection: PostgresConnection
    ) async throws {
        var differingIDs: [String] = [], differing: [String] = []
        for (id, outcome) in zip(ids, outcomes) where outcome != expected {
            differingIDs.append(id)
            differing.append(outcome.rawValue)
        }
        try await connection.query(
            """
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

    /// The message, unchanged, queued for the dead-letter topic together with its inbox row in
    /// one transaction: either both commit or neither does, and the relay publishes it.
    private func deadLetter(_ metadata: InboxMetadata, reason: String) async throws {
        let dead = DeadLetterHeaders(reason: reason, topic: metadata.topic, partition: metadata.partition, offset: metadata.offset, group: group)
        let message = OutboxMessage(
            eventID: "dead-letter:\(group):\(metadata.eventID)", topic: deadLetterTopic,
            key: metadata.key.isEmpty ? metadata.eventID : metadata.key, payload: metadata.value,
            headers: metadata.headers.merging(dead.fields) { _, new in new },
            orgID: metadata.headers["ce_tenant"].flatMap { $0.isEmpty ? nil : $0 }
        )
        var attempt = 0
        while true {
            do {
                try await transaction { connection in
                    try await Outbox(schema: self.schema).enqueue([message], on: connection, logger: self.logger)
                    try await connection.query(
                        """
                        INSERT INTO \(unescaped: self.schema.name).inbox (event_id, event_type, topic, kafka_partition, kafka_offset, outcome)
                        VALUES (\(metadata.eventID), \(metadata.eventType), \(metadata.topic), \(metadata.partition), \(metadata.offset), \(InboxOutcome.deadLettered))
                        ON CONFLICT (event_id) DO UPDATE SET outcome = EXCLUDED.outcome
                        """, logger: self.logger)
                }
                break
            } catch let error where TransientFailure.isTransient(error) || error is DeadlineExceeded {
                attempt += 1
                try await Task.sleep(for: TransientFailure.backoff(attempt: attempt))
            }
        }
        deadLettered.increment()
        logger.error(
            "event queued for the dead-letter topic",
            metadata: [
                "event_id": "\(metadata.eventID)", "topic": "\(metadata.topic)", "partition": "\(metadata.partition)",
                "offset": "\(metadata.offset)", "dead_letter_topic": "\(deadLetterTopic)", "reason": "\(dead.reason)",
            ])
    }
}
