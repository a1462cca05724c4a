import Contracts
import Foundation
import Kafka
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Publishes a service's committed outbox rows to Kafka and marks them published.
///
/// Guarantees:
/// - Nothing committed is lost: a row is marked published only after the broker acknowledged it;
///   while the broker is down rows stay in the table and are retried with backoff.
/// - Rows are handed to the producer in id order (`KafkaProducer.enqueueOrdered`, one batch after
///   another), so messages with the same key keep their commit order. Only one relay per schema
///   publishes at a time (a session advisory lock), so replicas cannot interleave.
/// - Pipelined: the next batch is read and sent while earlier ones wait for acknowledgements, so
///   the broker's round trip is not paid once per batch in sequence.
/// - Delivery is at least once: a crash between the broker's ack and the `UPDATE` republishes a
///   row; consumers' inboxes skip it by event id.
///
/// Wakes on `LISTEN/NOTIFY` from the outbox insert trigger, and polls every `pollInterval` as a
/// fallback. Exports `outbox_backlog_messages` and `outbox_oldest_unpublished_age_seconds`.
public final class OutboxRelay: Service, Sendable {
    private let client: PostgresClient
    private let schema: ServiceSchema
    private let producer: KafkaProducer
    private let logger: Logger
    private let batchSize: Int
    private let pipelineDepth: Int
    private let pollInterval: Duration
    private let doorbell = Doorbell()
    /// Set by `NOTIFY` (a commit added rows); the relay reads only when rows may be waiting.
    private let rowsAnnounced = Atomic<Bool>(true)
    private let backlog: Gauge
    private let oldestAge: Gauge
    private let published: Counter

    /// How long published rows stay in the outbox (for operators and measurements) before the
    /// relay deletes them. The webhook inbox and the topics keep the events themselves.
    private let retention: Duration

    public init(
        client: PostgresClient, schema: ServiceSchema, producer: KafkaProducer, logger: Logger,
        batchSize: Int = 500, pipelineDepth: Int = 4, pollInterval: Duration = .seconds(1),
        retention: Duration = OutboxRelay.defaultRetention
    ) {
        self.retention = retention
        self.client = client
        self.pipelineDepth = max(1, pipelineDepth)
        self.schema = schema
        self.producer = producer
        self.logger = logger
        self.batchSize = batchSize
        self.pollInterval = pollInterval
        self.backlog = Gauge(label: "outbox_backlog_messages", dimensions: [("schema", schema.name)])
        self.oldestAge = Gauge(label: "outbox_oldest_unpublished_age_seconds", dimensions: [("schema", schema.name)])
        self.published = Counter(label: "outbox_published_total", dimensions: [("schema", schema.name)])
    }

    /// Seven days.
    public static let defaultRetention: Duration = .seconds(7 * 24 * 3600)

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Pruning runs beside publishing and stops when publishing has stopped (a throw
                // from the body cancels it too).
                group.addTask { await self.pruneUntilShutdown() }
                try await self.holdLeadershipAndListen()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.doorbell.ring()
        }
    }

    /// Takes the schema's relay lock on a dedicated connection, listens on it, and publishes
    /// while holding the lock. Reconnects with backoff when the database goes away.
    private func holdLeadershipAndListen() async throws {
        var backoff = Backoff()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await client.withConnection { connection in
                    let lockKey = Int64(bitPattern: ("relay:" + schema.name).hashValueStable)
                    while !Task.isShuttingDownGracefully {
                        let rows = try await connection.query("SELECT pg_try_advisory_lock(\(lockKey))", logger: logger)
                        var acquired = false
                        for try await value in rows.decode(Bool.self) { acquired = value }
                        if acquired { break }
                        await doorbell.wait(upTo: .seconds(2))
                    }
                    guard !Task.isShuttingDownGracefully else { return }
                    logger.info("outbox relay is the publisher for this schema", metadata: ["schema": "\(schema.name)"])
                    try await connection.listen(on: "\(schema.name)_outbox") { notifications in
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                for try await _ in notifications {
                                    self.rowsAnnounced.store(true, ordering: .releasing)
                                    self.doorbell.ring()
                                }
                            }
                            group.addTask { try await self.publishUntilShutdown() }
                            try await group.next()
                            group.cancelAll()
                        }
                    }
                    _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
                }
                return
            } catch {
                guard !Task.isShuttingDownGracefully else { return }
                logger.warning("outbox relay lost its database connection; retrying", metadata: ["error": "\(String(reflecting: error))"])
                try await Task.sleep(for: backoff.next())
            }
        }
    }

    private func publishUntilShutdown() async throws {
        var backoff = Backoff()
        var consecutiveTimeouts = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await publishContinuously { backoff.reset() }
            } catch let error as CancellationError {
                throw error
            } catch {
                // Deliveries that keep timing out while the relay runs mean the client is stuck
                // (e.g. the broker forgot its idempotent producer id): start a fresh client.
                if let kafkaError = error as? KafkaError, kafkaError.codeName == "_MSG_TIMED_OUT" {
                    consecutiveTimeouts += 1
                    if consecutiveTimeouts >= 2 {
                        logger.warning("outbox deliveries keep timing out; recreating the Kafka producer client")
                        producer.recreateClient()
                        consecutiveTimeouts = 0
                    }
                } else {
                    consecutiveTimeouts = 0
                }
                let delay = backoff.next()
                logger.warning("outbox relay could not publish; will retry", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try? await refreshMetrics()
                await doorbell.wait(upTo: delay)
            }
        }
    }

    /// Every 10 s, deletes rows published longer than `retention` ago, in statements of at most
    /// 5,000 rows (up to 100,000 rows a round, beyond any insert rate the relay sustains), so the
    /// outbox stays bounded. Runs beside publishing, never in its way: a failed or slow round is
    /// logged and tried again at the next one.
    private func pruneUntilShutdown() async {
        let outbox = Outbox(schema: schema)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                var deleted = 0
                for _ in 0..<20 {
                    let count = try await withDeadline(Self.statementDeadline) {
                        try await outbox.prunePublished(olderThan: self.retention, client: self.client, logger: self.logger)
                    }
                    deleted += count
                    if count < Outbox.pruneLimit { break }
                }
                if deleted > 0 { logger.debug("pruned published outbox rows", metadata: ["deleted": "\(deleted)"]) }
            } catch {
                logger.warning("could not prune the outbox; will retry", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: .seconds(10))
        }
    }

    /// A batch handed to the producer whose rows are not marked published yet.
    private struct InFlight {
        var ids: [Int64]
        var deliveries: KafkaDeliveries
    }

    /// Publishes until shutdown or the first failure, as a pipeline: the next rows are read and
    /// handed to the producer while earlier batches still wait for the broker's acknowledgements
    /// (at most `pipelineDepth` batches in flight). Batches are marked published in id order, each
    /// only after all of its messages were acknowledged. Wakes on a new outbox row (`NOTIFY`), on
    /// a batch's last acknowledgement, or every `pollInterval`; reads only when rows may be
    /// waiting (announced, a full previous read, or the poll interval passed), so a wake-up for an
    /// acknowledgement costs no query.
    ///
    /// On a failure the batches still in flight are settled (their acknowledged rows marked) and
    /// the error is thrown; the caller backs off and starts again from the oldest unpublished row.
    private func publishContinuously(onProgress: () -> Void) async throws {
        var inFlight: [InFlight] = []
        var readAgain = true
        var lastRead = ContinuousClock.now
        var lastMetrics: ContinuousClock.Instant?
        do {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                var progressed = false
                while let oldest = inFlight.first, oldest.deliveries.isComplete {
                    inFlight.removeFirst()
                    try await settle(oldest)
                    onProgress()
                    progressed = true
                }
                if inFlight.count < pipelineDepth,
                    readAgain || rowsAnnounced.exchange(false, ordering: .acquiringAndReleasing) || ContinuousClock.now - lastRead >= pollInterval
                {
                    let sending = inFlight.flatMap(\.ids)
                    let (ids, messages) = try await withDeadline(Self.statementDeadline) { try await self.unpublished(excluding: sending) }
                    lastRead = .now
                    readAgain = ids.count == batchSize
                    if !ids.isEmpty {
                        inFlight.append(InFlight(ids: ids, deliveries: await producer.enqueueOrdered(messages) { self.doorbell.ring() }))
                        progressed = true
                    }
                }
                // The backlog gauges are refreshed once per poll interval, busy or idle: not after
                // every batch (a query per batch at low rates), and not only when the pipeline is
                // empty (never, while a backlog drains, when operators look at them).
                // A gauge query that fails or hangs never holds up publishing.
                if lastMetrics.map({ ContinuousClock.now - $0 >= pollInterval }) ?? true {
                    lastMetrics = .now
                    _ = try? await withDeadline(.seconds(5)) { try await self.refreshMetrics() }
                }
                if progressed { continue }
                await doorbell.wait(upTo: pollInterval)
            }
        } catch {
            for batch in inFlight { try? await settle(batch) }
            throw error
        }
        for batch in inFlight { try await settle(batch) }
    }

    /// The longest the relay waits for one statement; a hung connection cannot stop it.
    static let statementDeadline: Duration = .seconds(30)

    /// Up to `batchSize` unpublished rows, in id order, leaving out those already in flight. (Not
    /// "after the last id sent": a transaction that took a lower id may commit later.)
    private func unpublished(excluding sending: [Int64]) async throws -> (ids: [Int64], messages: [KafkaProducerMessage]) {
        let rows = try await client.query(
            """
            SELECT id, topic, message_key, payload, headers::text FROM \(unescaped: schema.name).outbox
            WHERE published_at IS NULL AND id <> ALL(\(sending)::int8[]) ORDER BY id LIMIT \(batchSize)
            """, logger: logger)
        var ids: [Int64] = []
        var messages: [KafkaProducerMessage] = []
        for try await (id, topic, key, payload, headers) in rows.decode((Int64, String, String, ByteBuffer, String).self) {
            let headerMap = (try? JSONSerialization.jsonObject(with: Data(headers.utf8)) as? [String: String]) ?? [:]
            ids.append(id)
            messages.append(OutboxMessage(eventID: "", topic: topic, key: key, payload: Array(buffer: payload), headers: headerMap).kafkaMessage)
        }
        return (ids, messages)
    }

    /// Waits for a batch's acknowledgements (each message gets an outcome within the producer's
    /// delivery timeout; the deadline is a last resort), marks the acknowledged rows published and
    /// the failed ones with their error, and throws the first failure.
    private func settle(_ batch: InFlight) async throws {
        let results = try await withDeadline(.seconds(180)) { await batch.deliveries.outcomes() }
        var delivered: [Int64] = []
        var failed: [Int64] = []
        var firstError: KafkaError?
        for (id, result) in zip(batch.ids, results) {
            switch result {
            case .success: delivered.append(id)
            case .failure(let error):
                failed.append(id)
                firstError = firstError ?? error
            }
        }
        if !delivered.isEmpty {
            let delivered = delivered
            _ = try await withDeadline(Self.statementDeadline) {
                try await self.client.query("UPDATE \(unescaped: self.schema.name).outbox SET published_at = now() WHERE id = ANY(\(delivered))", logger: self.logger)
            }
            published.increment(by: delivered.count)
        }
        if let firstError {
            let failed = failed
            _ = try await withDeadline(Self.statementDeadline) {
                try await self.client.query(
                    """
                    UPDATE \(unescaped: self.schema.name).outbox SET attempts = attempts + 1, last_error = \(firstError.description)
                    WHERE id = ANY(\(failed))
                    """, logger: self.logger)
            }
            throw firstError
        }
    }

    private func refreshMetrics() async throws {
        let rows = try await client.query(
            """
            SELECT count(*)::bigint, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
            FROM \(unescaped: schema.name).outbox WHERE published_at IS NULL
            """, logger: logger)
        for try await (count, age) in rows.decode((Int64, Double).self) {
            backlog.record(count)
            oldestAge.record(age)
        }
    }
}

/// Exponential backoff from 100 ms to 10 s.
struct Backoff {
    private var attempt = 0
    mutating func next() -> Duration {
        defer { attempt += 1 }
        return .milliseconds(min(10_000, 100 << min(attempt, 7)))
    }
    mutating func reset() { attempt = 0 }
}
