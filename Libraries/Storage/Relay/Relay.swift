import Contracts
import Foundation
import Kafka
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Publishes a feed's committed rows to Kafka and records them published (`RelayFeed`): the
/// service's outbox (`OutboxRelay`), or another table that is its own feed (the gateway's
/// webhook inbox).
///
/// Guarantees:
/// - Nothing committed is lost: a row is recorded published only after the broker acknowledged
///   it; while the broker is down rows stay where they are and are retried with backoff.
/// - Rows are handed to the producer in feed order (`KafkaProducer.enqueueOrdered`, one batch
///   after another), so messages with the same key keep their order. Only one relay per feed
///   publishes at a time (a session advisory lock), so replicas cannot interleave.
/// - Pipelined: the next batch is read and sent while earlier ones wait for acknowledgements, so
///   the broker's round trip is not paid once per batch in sequence. Batches are settled in the
///   order they were read.
/// - Delivery is at least once: a crash between the broker's ack and the record republishes a
///   row; consumers' inboxes skip it by event id.
///
/// Wakes on `LISTEN/NOTIFY` on the feed's channel, and polls every `pollInterval` (5 s) as a
/// fallback; the backlog gauges are refreshed as often.
/// Exports `outbox_backlog_messages`, `outbox_oldest_unpublished_age_seconds` and
/// `outbox_published_total`, labelled with the schema and the feed.
public final class Relay<Feed: RelayFeed>: Service, Sendable {
    private let feed: Feed
    private let client: PostgresClient
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

    /// How long the feed keeps what it knows of published rows (for operators and
    /// measurements) before the relay prunes it. The topics keep the events themselves.
    private let retention: Duration

    public init(
        feed: Feed, client: PostgresClient, producer: KafkaProducer, logger: Logger,
        batchSize: Int = 500, pipelineDepth: Int = 4, pollInterval: Duration = .seconds(5),
        retention: Duration = OutboxRelay.defaultRetention
    ) {
        self.feed = feed
        self.retention = retention
        self.client = client
        self.pipelineDepth = max(1, pipelineDepth)
        self.producer = producer
        self.logger = logger
        self.batchSize = batchSize
        self.pollInterval = pollInterval
        let dimensions = [("schema", feed.schema.name), ("feed", feed.name)]
        self.backlog = Gauge(label: "outbox_backlog_messages", dimensions: dimensions)
        self.oldestAge = Gauge(label: "outbox_oldest_unpublished_age_seconds", dimensions: dimensions)
        self.published = Counter(label: "outbox_published_total", dimensions: dimensions)
    }

    /// Seven days.
    public static var defaultRetention: Duration { .seconds(7 * 24 * 3600) }

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

    /// The advisory lock that makes one relay per feed the publisher. The outbox keeps the key
    /// it always had, so a relay of an earlier build and one of this build never both publish.
    private var lockKey: Int64 {
        let name = feed.name == "outbox" ? "relay:" + feed.schema.name : "relay:\(feed.schema.name):\(feed.name)"
        return Int64(bitPattern: name.hashValueStable)
    }

    /// Takes the feed's relay lock on a dedicated connection, listens on it, and publishes
    /// while holding the lock. Reconnects with backoff when the database goes away.
    private func holdLeadershipAndListen() async throws {
        var backoff = Backoff()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await client.withConnection { connection in
                    let lockKey = self.lockKey
                    while !Task.isShuttingDownGracefully {
                        let rows = try await connection.query("SELECT pg_try_advisory_lock(\(lockKey))", logger: logger)
                        var acquired = false
                        for try await value in rows.decode(Bool.self) { acquired = value }
                        if acquired { break }
                        await doorbell.wait(upTo: .seconds(2))
                    }
                    guard !Task.isShuttingDownGracefully else { return }
                    logger.info("relay is the publisher for this feed", metadata: ["schema": "\(feed.schema.name)", "feed": "\(feed.name)"])
                    try await connection.listen(on: feed.channel) { notifications in
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
                logger.warning(
                    "relay lost its database connection; retrying", metadata: ["feed": "\(feed.name)", "error": "\(String(reflecting: error))"])
                try await Task.sleep(for: backoff.next())
            }
        }
    }

    private func publishUntilShutdown() async throws {
        var backoff = Backoff()
        var consecutiveTimeouts = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                await feed.restart()
                try await publishContinuously { backoff.reset() }
            } catch let error as CancellationError {
                throw error
            } catch {
                // Deliveries that keep timing out while the relay runs mean the client is stuck
                // (e.g. the broker forgot its idempotent producer id): start a fresh client.
                if let kafkaError = error as? KafkaError, kafkaError.codeName == "_MSG_TIMED_OUT" {
                    consecutiveTimeouts += 1
                    if consecutiveTimeouts >= 2 {
                        logger.warning("relay deliveries keep timing out; recreating the Kafka producer client")
                        producer.recreateClient()
                        consecutiveTimeouts = 0
                    }
                } else {
                    consecutiveTimeouts = 0
                }
                let delay = backoff.next()
                logger.warning(
                    "relay could not publish; will retry", metadata: ["feed": "\(feed.name)", "error": "\(String(reflecting: error))", "retry_in": "\(delay)"])
                try? await refreshMetrics()
                await doorbell.wait(upTo: delay)
            }
        }
    }

    /// Every minute, prunes what the feed keeps of rows published longer than `retention` ago, in
    /// calls of at most `pruneLimit` rows (up to 20 calls a round, beyond any rate the relay
    /// sustains), so it stays bounded. Runs beside publishing, never in its way: a failed or slow
    /// round is logged and tried again at the next one.
    private func pruneUntilShutdown() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                var deleted = 0
                for _ in 0..<20 {
                    let count = try await withDeadline(Self.statementDeadline) { try await self.feed.prune(olderThan: self.retention) }
                    deleted += count
                    if count < Feed.pruneLimit { break }
                }
                if deleted > 0 { logger.debug("pruned published rows", metadata: ["feed": "\(feed.name)", "deleted": "\(deleted)"]) }
            } catch {
                logger.warning("could not prune published rows; will retry", metadata: ["feed": "\(feed.name)", "error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: .seconds(60))
        }
    }

    /// A batch handed to the producer whose rows are not recorded published yet.
    private struct InFlight {
        var positions: [Feed.Position]
        var deliveries: KafkaDeliveries
    }

    /// Publishes until shutdown or the first failure, as a pipeline: the next rows are read and
    /// handed to the producer while earlier batches still wait for the broker's acknowledgements
    /// (at most `pipelineDepth` batches in flight). Batches are settled in read order, each only
    /// after all of its messages have an outcome. Wakes on a new row (`NOTIFY`), on a batch's
    /// last acknowledgement, or every `pollInterval`; reads only when rows may be waiting
    /// (announced, a full previous read, or the poll interval passed), so a wake-up for an
    /// acknowledgement costs no query.
    ///
    /// On a failure the batches still in flight are settled (their acknowledged rows recorded)
    /// and the error is thrown; the caller backs off and starts again from what is recorded.
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
                    let sending = inFlight.flatMap(\.positions)
                    let rows = try await withDeadline(Self.statementDeadline) { try await self.feed.read(inFlight: sending, limit: self.batchSize) }
                    lastRead = .now
                    readAgain = rows.count == batchSize
                    if !rows.isEmpty {
                        let deliveries = await producer.enqueueOrdered(rows.map(\.message)) { self.doorbell.ring() }
                        inFlight.append(InFlight(positions: rows.map(\.position), deliveries: deliveries))
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
    static var statementDeadline: Duration { .seconds(30) }

    /// Waits for a batch's acknowledgements (each message gets an outcome within the producer's
    /// delivery timeout; the deadline is a last resort), records them through the feed, and
    /// throws the first failure.
    private func settle(_ batch: InFlight) async throws {
        let results = try await withDeadline(.seconds(180)) { await batch.deliveries.outcomes() }
        let outcomes = results.map { $0.map { _ in () } }
        _ = try await withDeadline(Self.statementDeadline) { try await self.feed.settle(batch.positions, outcomes: outcomes) }
        let delivered = outcomes.filter { if case .success = $0 { true } else { false } }.count
        if delivered > 0 { published.increment(by: delivered) }
        for case .failure(let error) in results { throw error }
    }

    private func refreshMetrics() async throws {
        let (count, age) = try await feed.backlog()
        backlog.record(count)
        oldestAge.record(age)
    }
}

/// The relay of the service's outbox table.
public typealias OutboxRelay = Relay<OutboxFeed>

extension Relay where Feed == OutboxFeed {
    /// The relay of `schema`'s outbox.
    public convenience init(
        client: PostgresClient, schema: ServiceSchema, producer: KafkaProducer, logger: Logger,
        batchSize: Int = 500, pipelineDepth: Int = 4, pollInterval: Duration = .seconds(5),
        retention: Duration = OutboxRelay.defaultRetention
    ) {
        self.init(
            feed: OutboxFeed(client: client, schema: schema, logger: logger), client: client, producer: producer, logger: logger,
            batchSize: batchSize, pipelineDepth: pipelineDepth, pollInterval: pollInterval, retention: retention)
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
