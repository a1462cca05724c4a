import Dispatch
import Foundation
import Logging
import Metrics
import Synchronization

/// A consumer-group member that hands messages to the application in batches.
///
/// Guarantees:
/// - Offsets are never stored automatically. The application calls `store(_:)` after its own
///   effects are committed; librdkafka commits stored offsets in the background, before
///   partitions are released, and on close. A committed offset is therefore never ahead of
///   the effects it covers: a crash redelivers, it never skips.
/// - Assignment is `cooperative-sticky`. Before revoked partitions are released, their
///   undelivered messages are dropped (the next owner reads them), the batch in the
///   application's hands is given `revokeTimeout` to settle, the `onRevoke` hook runs, and
///   stored offsets are committed.
/// - A tombstone is delivered as a message with a nil value; an error on a single message is
///   logged and counted and never stops the consumer.
/// - Batches flow through `batches`, an `AsyncSequence`; at most `bufferedBatches` wait, after
///   which the poll thread stops fetching until the application catches up.
/// - Cancelling the task that iterates, or calling `close()`, leaves the group (LeaveGroup)
///   after committing stored offsets.
///
/// librdkafka is polled on one dedicated thread, never on Swift's cooperative pool.
public final class KafkaConsumer: Sendable {
    /// Called before revoked partitions are released, on the rebalance path.
    public typealias RevokeHook = @Sendable ([KafkaTopicPartition]) async -> Void
    /// Called after partitions were assigned.
    public typealias AssignHook = @Sendable ([KafkaTopicPartition]) async -> Void

    private typealias Reader = CheckedContinuation<KafkaConsumerBatch?, Never>
    private typealias State = ConsumerStateMachine<Reader, CheckedContinuation<Void, Never>>

    /// Data owned by the poll thread alone.
    private final class PollThreadData: @unchecked Sendable {
        var assembling: [KafkaConsumerMessage] = []
    }

    public let configuration: KafkaConsumerConfiguration
    private let logger: Logger
    private let context: RdKafkaCallbackContext
    private let client: RdKafkaConsumerClient
    private let state: Mutex<State>
    private let spaceAvailable = DispatchSemaphore(value: 0)
    private let batchSettled = DispatchSemaphore(value: 0)
    private let pollThreadData = PollThreadData()
    private let onAssign: AssignHook?
    private let onRevoke: RevokeHook?
    private let messageErrors: Counter

    /// Creates the consumer, subscribes to `configuration.topics` and starts polling.
    public init(
        configuration: KafkaConsumerConfiguration,
        logger: Logger,
        onAssign: AssignHook? = nil,
        onRevoke: RevokeHook? = nil
    ) throws(KafkaError) {
        guard !configuration.topics.isEmpty else { throw KafkaError(.invalidArgument, "a consumer needs at least one topic") }
        guard configuration.maxBatchSize > 0, configuration.bufferedBatches > 0 else {
            throw KafkaError(.invalidArgument, "maxBatchSize and bufferedBatches must be positive")
        }
        self.configuration = configuration
        self.state = Mutex(State(bufferedBatches: configuration.bufferedBatches))
        var logger = logger
        logger[metadataKey: "kafka.group"] = "\(configuration.groupID)"
        self.logger = logger
        self.onAssign = onAssign
        self.onRevoke = onRevoke
        self.messageErrors = Counter(label: "kafka_consumer_message_errors_total", dimensions: [("group", configuration.groupID)])
        self.context = RdKafkaCallbackContext(logger: logger, clientID: configuration.client.clientID, clientType: "consumer")

        self.client = try RdKafkaConsumerClient(properties: configuration.librdkafkaProperties, context: context, topics: configuration.topics)
        // The callback context only reaches back weakly; the consumer owns the context.
        RdKafkaConsumerClient.onRebalance(context) { [weak self] rebalance in self?.rebalance(rebalance) }
        let thread = Thread { [self] in self.pollLoop() }
        thread.name = "kafka-consumer-poll"
        thread.start()
    }

    /// Creates a consumer, runs `body` with it, and always closes it (leaving the group)
    /// when `body` returns or throws.
    public static func withConsumer<Result>(
        configuration: KafkaConsumerConfiguration,
        logger: Logger,
        onAssign: AssignHook? = nil,
        onRevoke: RevokeHook? = nil,
        _ body: (KafkaConsumer) async throws -> Result
    ) async throws -> Result {
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger, onAssign: onAssign, onRevoke: onRevoke)
        do {
            let result = try await body(consumer)
            await consumer.close()
            return result
        } catch {
            await consumer.close()
            throw error
        }
    }

    // MARK: Application side

    /// The batches, in the order they were fetched. Ends when the consumer closes or the
    /// iterating task is cancelled (which also closes the consumer).
    public var batches: Batches { Batches(consumer: self) }

    /// The partitions this member currently owns.
    public var assignment: Set<KafkaTopicPartition> { state.withLock { $0.assignment } }

    /// Stores, for each partition of `batch`, its highest offset plus one. Call it only after
    /// the batch's effects are durably committed.
    public func store(_ batch: KafkaConsumerBatch) throws(KafkaError) {
        try store(batch.nextOffsets)
    }

    /// Stores the offset after `message`. Call it only after its effects are committed.
    public func store(_ message: KafkaConsumerMessage) throws(KafkaError) {
        try store([KafkaTopicPartitionOffset(topicPartition: message.topicPartition, offset: KafkaOffset(message.offset.rawValue + 1))])
    }

    /// Stores next-to-read offsets; they are committed in the background, on revoke and on close.
    /// Throws `.offsets` naming the partitions this member no longer owns; those offsets were
    /// not stored (the new owner will redeliver, and the application's inbox skips them).
    public func store(_ offsets: [KafkaTopicPartitionOffset]) throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        try client.storeOffsets(offsets)
    }

    /// Commits the stored offsets now and waits for the broker to confirm.
    public func commit() async throws(KafkaError) {
        try await BlockingCalls.run { [client] () throws(KafkaError) in try client.commit() }
    }

    /// Leaves the group after committing stored offsets, and releases the client.
    /// Whatever batch the application held is considered finished. Idempotent.
    public func close() async {
        beginClose(settlingApplication: true)
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let waiting = state.withLock { $0.waitForClose(waiter) }
            if !waiting { waiter.resume() }
        }
    }

    private func beginClose(settlingApplication: Bool) {
        let (reader, wakeups) = state.withLock { $0.beginClose(settlingApplication: settlingApplication) }
        perform(wakeups)
        reader?.resume(returning: nil)
    }

    /// Does what the state machine asked for, outside its lock.
    private func perform(_ wakeups: State.Wakeups) {
        if wakeups.pollThread { spaceAvailable.signal() }
        if wakeups.rebalance { batchSettled.signal() }
    }

    fileprivate func nextBatch() async -> KafkaConsumerBatch? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (reader: Reader) in
                switch state.withLock({ $0.nextBatch(reader: reader, cancelled: Task.isCancelled) }) {
                case .batch(let batch, let wakeups):
                    perform(wakeups)
                    reader.resume(returning: batch)
                case .end(let closeNow, let wakeups):
                    perform(wakeups)
                    if closeNow { beginClose(settlingApplication: false) }
                    reader.resume(returning: nil)
                case .wait(let wakeups):
                    perform(wakeups)
                }
            }
        } onCancel: {
            beginClose(settlingApplication: false)
        }
    }

    // MARK: Poll thread

    private func pollLoop() {
        while state.withLock({ $0.isRunning }) {
            guard let first = client.poll(timeout: 250) else { continue }
            take(first)
            while pollThreadData.assembling.count < configuration.maxBatchSize, let next = client.poll(timeout: 0) {
                take(next)
            }
            let messages = pollThreadData.assembling
            pollThreadData.assembling = []
            if !messages.isEmpty { deliver(KafkaConsumerBatch(messages: messages)) }
        }
        finish()
    }

    /// Keeps a polled message for the batch being assembled; an error in its place is logged and
    /// counted, never delivered.
    private func take(_ polled: RdKafkaConsumerClient.Polled) {
        switch polled {
        case .message(let message):
            pollThreadData.assembling.append(message)
        case .error(let name, let reason):
            messageErrors.increment()
            logger.warning("Kafka consumer skipped an error in place of a message", metadata: ["kafka.error": "\(name)", "reason": "\(reason)"])
        case .partitionEnd:
            break
        }
    }

    /// Hands a batch to a waiting reader or the buffer; blocks this thread while the buffer
    /// is full (back-pressure). Drops the batch when the consumer is closing: its offsets were
    /// not stored, so it is redelivered after a restart.
    private func deliver(_ batch: KafkaConsumerBatch) {
        while true {
            switch state.withLock({ $0.deliver(batch) }) {
            case .handOver(let reader):
                reader.resume(returning: batch)
                return
            case .done:
                return
            case .waitForSpace:
                // Woken by the reader taking a batch or by close; the timeout only re-checks.
                _ = spaceAvailable.wait(timeout: .now() + .seconds(1))
            }
        }
    }

    /// Runs on the poll thread, inside a poll or the close.
    private func rebalance(_ rebalance: RdKafkaConsumerClient.Rebalance) {
        switch rebalance {
        case .assign(let partitions):
            if let failure = client.assign(partitions) { logger.error("Kafka assign failed: \(failure)") }
            state.withLock { $0.assigned(partitions) }
            logger.info("Kafka partitions assigned", metadata: ["partitions": "\(partitions.map(\.description).joined(separator: ","))"])
            if let onAssign { Task { await onAssign(partitions) } }

        case .revoke(let partitions):
            let revoked = Set(partitions)
            let mustWait = state.withLock { $0.revoking(revoked) }
            pollThreadData.assembling.removeAll { revoked.contains($0.topicPartition) }
            if mustWait { waitForApplicationToSettle() }
            if let onRevoke {
                let done = DispatchSemaphore(value: 0)
                Task {
                    await onRevoke(partitions)
                    done.signal()
                }
                if done.wait(timeout: .now() + .milliseconds(Int(configuration.revokeTimeout.milliseconds))) == .timedOut {
                    logger.warning("Kafka revoke hook did not finish in time; releasing partitions anyway")
                }
            }
            if let failure = client.commitBeforeRevoke() {
                logger.warning("Kafka commit before revoke failed", metadata: ["kafka.error": "\(failure)"])
            }
            if let failure = client.unassign(partitions) { logger.error("Kafka unassign failed: \(failure)") }
            state.withLock { $0.revoked(revoked) }
            logger.info("Kafka partitions revoked", metadata: ["partitions": "\(partitions.map(\.description).joined(separator: ","))"])

        case .failed(let name):
            logger.error("Kafka rebalance failed", metadata: ["kafka.error": "\(name)"])
            _ = client.unassignAll()
            state.withLock { $0.rebalanceFailed() }
        }
    }

    private func waitForApplicationToSettle() {
        if batchSettled.wait(timeout: .now() + .milliseconds(Int(configuration.revokeTimeout.milliseconds))) == .timedOut {
            state.withLock { $0.rebalanceGaveUpWaiting() }
            logger.warning("The application held a batch past the revoke timeout; releasing partitions anyway")
        }
    }

    /// Leaves the group (serving the final revoke), destroys the client and wakes everyone.
    private func finish() {
        if let closeError = client.close() {
            logger.warning("Kafka consumer close reported an error", metadata: ["kafka.error": "\(closeError)"])
        }
        client.destroy()
        let (reader, waiters) = state.withLock { $0.finished() }
        reader?.resume(returning: nil)
        for waiter in waiters { waiter.resume() }
        logger.info("Kafka consumer left the group")
    }

    /// The batches of a consumer, as an `AsyncSequence`.
    public struct Batches: AsyncSequence, Sendable {
        public typealias Element = KafkaConsumerBatch
        let consumer: KafkaConsumer

        public struct AsyncIterator: AsyncIteratorProtocol {
            let consumer: KafkaConsumer
            public mutating func next() async -> KafkaConsumerBatch? { await consumer.nextBatch() }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer) }
    }
}
