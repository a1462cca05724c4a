import CRdKafka
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
    private let handle: UnsafeHandle
    /// True while `handle` may be used; cleared, under the lock, right before it is destroyed.
    private let handleAlive = Mutex(true)
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

        let config = try RdKafkaConfig(configuration.librdkafkaProperties)
        context.install(on: config.pointer)
        rd_kafka_conf_set_rebalance_cb(config.pointer) { handle, error, partitions, _ in
            RdKafkaCallbackContext.from(handle)?.rebalance?(error, partitions)
        }
        let pointer = try makeRdKafkaHandle(type: RD_KAFKA_CONSUMER, config: config)
        self.handle = UnsafeHandle(pointer: pointer)
        rd_kafka_poll_set_consumer(pointer)

        let subscription = configuration.topics.map {
            KafkaTopicPartitionOffset(topic: $0, partition: .unassigned, offset: .invalid)
        }
        let subscribeError = TopicPartitionList.with(subscription) { list in rd_kafka_subscribe(pointer, list) }
        guard subscribeError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            destroyRdKafkaHandle(pointer)
            throw KafkaError(.subscription, subscribeError, "subscribing to \(configuration.topics.joined(separator: ","))")
        }
        // The callback context only reaches back weakly; the consumer owns the context.
        context.rebalance = { [weak self] error, partitions in self?.rebalance(error, partitions) }
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
        let failures: [TopicPartitionList.Element] = try handleAlive.withLock { alive throws(KafkaError) in
            guard alive else { throw KafkaError(.shutdown, "the consumer is closed") }
            return TopicPartitionList.with(offsets) { list in
                let error = rd_kafka_offsets_store(handle.pointer, list)
                let elements = TopicPartitionList.read(list)
                if error != RD_KAFKA_RESP_ERR_NO_ERROR, elements.allSatisfy({ $0.error == RD_KAFKA_RESP_ERR_NO_ERROR }) {
                    return offsets.map { .init(value: $0, error: error) }
                }
                return elements.filter { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }
            }
        }
        guard let first = failures.first else { return }
        let names = failures.map { "\($0.value.topicPartition)" }.joined(separator: ", ")
        throw KafkaError(.offsets, first.error, "storing offsets for \(names)")
    }

    /// Commits the stored offsets now and waits for the broker to confirm.
    public func commit() async throws(KafkaError) {
        try await BlockingCalls.run { [self] () throws(KafkaError) in
            try handleAlive.withLock { alive throws(KafkaError) in
                guard alive else { throw KafkaError(.shutdown, "the consumer is closed") }
                let error = rd_kafka_commit(handle.pointer, nil, 0)
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR || error == RD_KAFKA_RESP_ERR__NO_OFFSET else {
                    throw KafkaError(.offsets, error, "committing offsets")
                }
            }
        }
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
            guard let first = rd_kafka_consumer_poll(handle.pointer, 250) else { continue }
            take(first)
            while pollThreadData.assembling.count < configuration.maxBatchSize,
                let next = rd_kafka_consumer_poll(handle.pointer, 0)
            {
                take(next)
            }
            let messages = pollThreadData.assembling
            pollThreadData.assembling = []
            if !messages.isEmpty { deliver(KafkaConsumerBatch(messages: messages)) }
        }
        finish()
    }

    /// Converts one polled message (or per-message error) and always destroys it.
    private func take(_ message: UnsafeMutablePointer<rd_kafka_message_t>) {
        defer { rd_kafka_message_destroy(message) }
        let error = message.pointee.err
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            if error != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                messageErrors.increment()
                logger.warning(
                    "Kafka consumer skipped an error in place of a message",
                    metadata: [
                        "kafka.error": "\(errorName(error))",
                        "reason": "\(String(cString: rd_kafka_message_errstr(message)))",
                    ])
            }
            return
        }
        pollThreadData.assembling.append(Self.convert(message))
    }

    private static func convert(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaConsumerMessage {
        let raw = message.pointee
        func bytes(_ pointer: UnsafeMutableRawPointer?, _ count: Int) -> [UInt8]? {
            guard let pointer else { return nil }
            return Array(UnsafeRawBufferPointer(start: pointer, count: count))
        }
        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer? = nil
        if rd_kafka_message_headers(message, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
            var index = 0
            var name: UnsafePointer<CChar>? = nil
            var value: UnsafeRawPointer? = nil
            var size = 0
            while rd_kafka_header_get_all(headerList, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                let headerValue = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
                headers.append(KafkaHeader(key: name.map { String(cString: $0) } ?? "", value: headerValue))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let milliseconds = rd_kafka_message_timestamp(message, &timestampType)
        return KafkaConsumerMessage(
            topic: raw.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "",
            partition: KafkaPartition(raw.partition),
            offset: KafkaOffset(raw.offset),
            key: bytes(raw.key, raw.key_len),
            value: bytes(raw.payload, raw.len),
            headers: headers,
            timestamp: milliseconds >= 0 ? Date(timeIntervalSince1970: Double(milliseconds) / 1000) : nil
        )
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

    /// Runs on the poll thread, inside `rd_kafka_consumer_poll` or `rd_kafka_consumer_close`.
    private func rebalance(_ error: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        let partitions = TopicPartitionList.read(list).map(\.value.topicPartition)
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle.pointer)) == "COOPERATIVE"
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                if let failure = rd_kafka_incremental_assign(handle.pointer, list) { logAndDestroy(failure, "incremental assign") }
            } else {
                _ = rd_kafka_assign(handle.pointer, list)
            }
            state.withLock { $0.assigned(partitions) }
            logger.info("Kafka partitions assigned", metadata: ["partitions": "\(partitions.map(\.description).joined(separator: ","))"])
            if let onAssign { Task { await onAssign(partitions) } }

        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let revoked = Set(partitions)
            let mustWait = state.withLock { $0.revoking(revoked) }
            pollThreadData.assembling.removeAll { revoked.contains($0.topicPartition) }
            if mustWait { waitForApplicationToSettle() }
            if let onRevoke {
                let done = DispatchSemaphore(value: 0)
                Task {
                    await onRevoke(partitions); done.signal()
                }
                if done.wait(timeout: .now() + .milliseconds(Int(configuration.revokeTimeout.milliseconds))) == .timedOut {
                    logger.warning("Kafka revoke hook did not finish in time; releasing partitions anyway")
                }
            }
            let commitError = rd_kafka_commit(handle.pointer, nil, 0)
            if commitError != RD_KAFKA_RESP_ERR_NO_ERROR, commitError != RD_KAFKA_RESP_ERR__NO_OFFSET {
                logger.warning("Kafka commit before revoke failed", metadata: ["kafka.error": "\(errorName(commitError))"])
            }
            if cooperative {
                if let failure = rd_kafka_incremental_unassign(handle.pointer, list) { logAndDestroy(failure, "incremental unassign") }
            } else {
                _ = rd_kafka_assign(handle.pointer, nil)
            }
            state.withLock { $0.revoked(revoked) }
            logger.info("Kafka partitions revoked", metadata: ["partitions": "\(partitions.map(\.description).joined(separator: ","))"])

        default:
            logger.error("Kafka rebalance failed", metadata: ["kafka.error": "\(errorName(error))"])
            _ = rd_kafka_assign(handle.pointer, nil)
            state.withLock { $0.rebalanceFailed() }
        }
    }

    private func waitForApplicationToSettle() {
        if batchSettled.wait(timeout: .now() + .milliseconds(Int(configuration.revokeTimeout.milliseconds))) == .timedOut {
            state.withLock { $0.rebalanceGaveUpWaiting() }
            logger.warning("The application held a batch past the revoke timeout; releasing partitions anyway")
        }
    }

    private func logAndDestroy(_ error: OpaquePointer, _ what: String) {
        logger.error("Kafka \(what) failed: \(String(cString: rd_kafka_error_string(error)))")
        rd_kafka_error_destroy(error)
    }

    /// Leaves the group (serving the final revoke), destroys the client and wakes everyone.
    private func finish() {
        let closeError = rd_kafka_consumer_close(handle.pointer)
        if closeError != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("Kafka consumer close reported an error", metadata: ["kafka.error": "\(errorName(closeError))"])
        }
        handleAlive.withLock { alive in
            alive = false
            destroyRdKafkaHandle(handle.pointer)
        }
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
