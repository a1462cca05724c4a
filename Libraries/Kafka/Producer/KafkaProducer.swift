import CRdKafka
import Dispatch
import Foundation
import Logging
import Metrics
import Synchronization

/// An idempotent Kafka producer.
///
/// Guarantees:
/// - Every `send` ends in exactly one outcome: the delivery report (partition and offset) once
///   the broker acknowledged the message, or a `KafkaError`. Nothing is left hanging at
///   shutdown: what flush could not deliver is purged and failed.
/// - Messages with the same key go to the same partition in `send` order, and librdkafka's
///   idempotence (`enable.idempotence=true`) keeps retries from duplicating or reordering them.
/// - At most `maxInFlightMessages` are waiting for a report; further `send` calls suspend until
///   a slot frees up (back-pressure), so memory stays bounded.
/// - A fatal client error (`rd_kafka_fatal_error`) fails the affected sends and replaces the
///   librdkafka client with a fresh one; later sends go through the new client.
///
/// Delivery reports arrive in batches (librdkafka's DR events) on one dedicated poll thread and
/// are matched to their `send` by a per-message opaque id. No blocking C call runs on Swift's
/// cooperative thread pool.
public final class KafkaProducer: Sendable {
    private typealias Completion = @Sendable (Result<KafkaDeliveryReport, KafkaError>) -> Void

    private enum Lifecycle { case running, shuttingDown, closed }

    private struct State {
        var lifecycle = Lifecycle.running
        var nextMessageID: UInt = 1
        var pending: [UInt: Completion] = [:]
        var slotsInUse = 0
        var slotWaiters: [CheckedContinuation<Bool, Never>] = []
    }

    /// One librdkafka client and its main event queue.
    private struct Client: @unchecked Sendable {
        let handle: OpaquePointer
        let queue: OpaquePointer
    }

    private let configuration: KafkaProducerConfiguration
    private let logger: Logger
    private let context: RdKafkaCallbackContext
    private let state = Mutex(State())
    private let client: Mutex<Client?>
    private let stopPolling = Atomic<Bool>(false)
    private let recreateRequested = Atomic<Bool>(false)
    /// Set by `shutdown` under the `client` lock: from then on the poll thread no longer replaces
    /// (and destroys) the client that shutdown is flushing.
    private let replacementsStopped = Atomic<Bool>(false)
    private let pollThreadFinished = DispatchSemaphore(value: 0)
    private let recreatedCounter: Counter

    /// Creates the producer and starts its poll thread.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws(KafkaError) {
        guard configuration.maxInFlightMessages > 0 else {
            throw KafkaError(.invalidArgument, "maxInFlightMessages must be positive")
        }
        self.configuration = configuration
        self.logger = logger
        self.context = RdKafkaCallbackContext(logger: logger, clientID: configuration.client.clientID, clientType: "producer")
        self.recreatedCounter = Counter(label: "kafka_producer_recreated_total", dimensions: [("client_id", configuration.client.clientID)])
        self.client = Mutex(try Self.makeClient(configuration: configuration, context: context))
        let thread = Thread { [self] in self.pollLoop() }
        thread.name = "kafka-producer-poll"
        thread.start()
    }

    private static func makeClient(configuration: KafkaProducerConfiguration, context: RdKafkaCallbackContext) throws(KafkaError) -> Client {
        let config = try RdKafkaConfig(configuration.librdkafkaProperties)
        context.install(on: config.pointer)
        rd_kafka_conf_set_events(config.pointer, Int32(RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR | RD_KAFKA_EVENT_STATS))
        let handle = try makeRdKafkaHandle(type: RD_KAFKA_PRODUCER, config: config)
        return Client(handle: handle, queue: rd_kafka_queue_get_main(handle))
    }

    // MARK: Sending

    /// Publishes `message` and returns where the broker stored it.
    ///
    /// Suspends while `maxInFlightMessages` are already waiting for reports. Throws
    /// `.shutdown` once shutdown has begun and `.delivery` when the broker did not accept the
    /// message within the delivery timeout.
    public func send(_ message: KafkaProducerMessage) async throws(KafkaError) -> KafkaDeliveryReport {
        guard await acquireSlot() else {
            throw KafkaError(.shutdown, "the producer is shutting down")
        }
        let result: Result<KafkaDeliveryReport, KafkaError> = await withCheckedContinuation { continuation in
            submit(message) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Publishes `messages` in exactly this order (so messages with the same key keep it) and
    /// returns every message's outcome, in input order. Never throws: each message has its own
    /// result, and a failure of one does not stop the others from being enqueued.
    public func sendOrdered(_ messages: [KafkaProducerMessage]) async -> [Result<KafkaDeliveryReport, KafkaError>] {
        await enqueueOrdered(messages).outcomes()
    }

    /// Hands `messages` to librdkafka in exactly this order and returns once all of them are
    /// enqueued (waiting only for room in the in-flight limit), without waiting for the broker.
    /// Batches enqueued one after another keep that order too, so a caller can enqueue the next
    /// batch while the previous one's deliveries are still outstanding.
    /// `whenDelivered` runs once, when the last of them has its outcome.
    public func enqueueOrdered(_ messages: [KafkaProducerMessage], whenDelivered: (@Sendable () -> Void)? = nil) async -> KafkaDeliveries {
        let collector = OutcomeCollector(count: messages.count, whenDone: whenDelivered)
        for (index, message) in messages.enumerated() {
            guard await acquireSlot() else {
                collector.record(index, .failure(KafkaError(.shutdown, "the producer is shutting down")))
                continue
            }
            submit(message) { collector.record(index, $0) }
        }
        return KafkaDeliveries(collector: collector)
    }

    /// Publishes several messages in order and returns their reports in input order.
    /// Throws the first failure after every message has an outcome.
    public func sendAll(_ messages: [KafkaProducerMessage]) async throws(KafkaError) -> [KafkaDeliveryReport] {
        try await sendOrdered(messages).map { result throws(KafkaError) in try result.get() }
    }

    /// Registers `completion` and hands the message to librdkafka. The caller holds a slot.
    private func submit(_ message: KafkaProducerMessage, completion: @escaping Completion) {
        let id: UInt? = state.withLock { state in
            guard state.lifecycle == .running else { return nil }
            let id = state.nextMessageID
            state.nextMessageID += 1
            state.pending[id] = completion
            return id
        }
        guard let id else {
            releaseSlots(1)
            completion(.failure(KafkaError(.shutdown, "the producer is shutting down")))
            return
        }
        if let error = enqueue(message, id: id) {
            let registered = state.withLock { $0.pending.removeValue(forKey: id) }
            releaseSlots(1)
            registered?(.failure(error))
        }
    }

    /// The number of messages waiting for a delivery report.
    public var inFlightCount: Int { state.withLock { $0.pending.count } }

    private func acquireSlot() async -> Bool {
        await withCheckedContinuation { (waiter: CheckedContinuation<Bool, Never>) in
            let decision: Bool? = state.withLock { state in
                guard state.lifecycle == .running else { return false }
                if state.slotsInUse < configuration.maxInFlightMessages {
                    state.slotsInUse += 1
                    return true
                }
                state.slotWaiters.append(waiter)
                return nil
            }
            if let decision { waiter.resume(returning: decision) }
        }
    }

    /// Frees `count` slots, handing each to a waiting sender first.
    private func releaseSlots(_ count: Int) {
        let granted: [CheckedContinuation<Bool, Never>] = state.withLock { state in
            let handOver = min(count, state.slotWaiters.count)
            let waiters = Array(state.slotWaiters.prefix(handOver))
            state.slotWaiters.removeFirst(handOver)
            state.slotsInUse -= count - handOver
            return waiters
        }
        for waiter in granted { waiter.resume(returning: true) }
    }

    /// Hands the message to librdkafka (which copies it). Returns the error when librdkafka
    /// refused it synchronously; otherwise its outcome arrives as a delivery report.
    private func enqueue(_ message: KafkaProducerMessage, id: UInt) -> KafkaError? {
        client.withLock { client -> KafkaError? in
            guard let client else { return KafkaError(.shutdown, "the producer is closed") }
            var headers: OpaquePointer? = nil
            if !message.headers.isEmpty {
                headers = rd_kafka_headers_new(message.headers.count)
                for header in message.headers {
                    _ = header.value.withOptionalBytes { pointer, count in
                        rd_kafka_header_add(headers, header.key, -1, pointer, count)
                    }
                }
            }
            let error: OpaquePointer? = message.topic.withCString { topic in
                message.key.withOptionalBytes { keyPointer, keyCount in
                    message.value.withOptionalBytes { valuePointer, valueCount in
                        var values = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: headers == nil ? 6 : 7)
                        values[0].vtype = RD_KAFKA_VTYPE_TOPIC
                        values[0].u.cstr = topic
                        values[1].vtype = RD_KAFKA_VTYPE_PARTITION
                        values[1].u.i32 = message.partition.rawValue
                        values[2].vtype = RD_KAFKA_VTYPE_VALUE
                        values[2].u.mem.ptr = UnsafeMutableRawPointer(mutating: valuePointer)
                        values[2].u.mem.size = valueCount
                        values[3].vtype = RD_KAFKA_VTYPE_KEY
                        values[3].u.mem.ptr = UnsafeMutableRawPointer(mutating: keyPointer)
                        values[3].u.mem.size = keyCount
                        values[4].vtype = RD_KAFKA_VTYPE_OPAQUE
                        values[4].u.ptr = UnsafeMutableRawPointer(bitPattern: id)
                        values[5].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                        values[5].u.i = RD_KAFKA_MSG_F_COPY
                        if let headers {
                            values[6].vtype = RD_KAFKA_VTYPE_HEADERS
                            values[6].u.headers = headers
                        }
                        return rd_kafka_produceva(client.handle, values, values.count)
                    }
                }
            }
            guard let error else { return nil }
            // On failure the headers were not taken over by librdkafka.
            if let headers { rd_kafka_headers_destroy(headers) }
            let code = rd_kafka_error_code(error)
            let text = String(cString: rd_kafka_error_string(error))
            rd_kafka_error_destroy(error)
            return KafkaError(.delivery, code: code.rawValue, "enqueue to \(message.topic) failed: \(text)")
        }
    }

    // MARK: Poll thread

    private func pollLoop() {
        while !stopPolling.load(ordering: .acquiring) {
            guard let current = client.withLock({ $0 }) else { break }
            if recreateRequested.exchange(false, ordering: .acquiringAndReleasing) {
                replace(current, reason: "requested by the application")
                continue
            }
            serveEvent(from: current, timeoutMilliseconds: 250)
        }
        pollThreadFinished.signal()
    }

    /// Serves at most one event from `client`'s queue. Returns false when the wait timed out.
    ///
    /// A fatal error replaces (and so destroys) `client`, which must happen only after the
    /// event, which belongs to that client, has been destroyed: destroying it afterwards is a
    /// use after free that corrupts the heap.
    @discardableResult
    private func serveEvent(from client: Client, timeoutMilliseconds: Int32) -> Bool {
        guard let event = rd_kafka_queue_poll(client.queue, timeoutMilliseconds) else { return false }
        var fatalReason: String?
        switch rd_kafka_event_type(event) {
        case Int32(RD_KAFKA_EVENT_DR):
            completeDeliveries(in: event)
        case Int32(RD_KAFKA_EVENT_STATS):
            if let json = rd_kafka_event_stats(event) {
                context.statistics.record(Data(bytes: json, count: strlen(json)))
            }
        case Int32(RD_KAFKA_EVENT_ERROR):
            let code = rd_kafka_event_error(event)
            let reason = String(cString: rd_kafka_event_error_string(event))
            if rd_kafka_event_error_is_fatal(event) != 0 {
                fatalReason = reason
            } else {
                logger.warning("Kafka producer error", metadata: ["kafka.error": "\(errorName(code))", "reason": "\(reason)"])
            }
        default:
            break
        }
        rd_kafka_event_destroy(event)
        if let fatalReason { replaceAfterFatalError(client, reason: fatalReason) }
        return true
    }

    private func completeDeliveries(in event: OpaquePointer) {
        var outcomes: [(UInt, Result<KafkaDeliveryReport, KafkaError>)] = []
        while let message = rd_kafka_event_message_next(event) {
            let id = UInt(bitPattern: message.pointee._private)
            let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
            let error = message.pointee.err
            if error == RD_KAFKA_RESP_ERR_NO_ERROR {
                outcomes.append(
                    (
                        id,
                        .success(
                            KafkaDeliveryReport(
                                topic: topic,
                                partition: KafkaPartition(message.pointee.partition),
                                offset: KafkaOffset(message.pointee.offset)
                            ))
                    ))
            } else {
                outcomes.append((id, .failure(KafkaError(.delivery, error, "delivery to \(topic) failed"))))
            }
        }
        let completions: [(Completion, Result<KafkaDeliveryReport, KafkaError>)] = state.withLock { state in
            outcomes.compactMap { id, result in state.pending.removeValue(forKey: id).map { ($0, result) } }
        }
        releaseSlots(completions.count)
        for (completion, result) in completions { completion(result) }
    }

    /// Asks the poll thread to replace the librdkafka client, as after a fatal error: messages the
    /// old client holds are purged and failed, later sends use a fresh client with a new producer
    /// id. For callers that see deliveries time out while brokers are reachable (e.g. a broker
    /// that lost the producer's idempotence state).
    public func recreateClient() {
        recreateRequested.store(true, ordering: .releasing)
        wakePollThread()
    }

    /// Wakes the poll thread from its wait on the current client's queue. Under the `client`
    /// lock, so the client cannot be swapped out and destroyed meanwhile.
    private func wakePollThread() {
        client.withLock { current in
            if let current { rd_kafka_queue_yield(current.queue) }
        }
    }

    /// Replaces a client that hit a fatal error.
    private func replaceAfterFatalError(_ failed: Client, reason: String) {
        var buffer = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(failed.handle, &buffer, buffer.count)
        logger.error(
            "Kafka producer hit a fatal error; recreating the client",
            metadata: [
                "kafka.error": "\(errorName(code))", "reason": "\(reason)",
            ])
        replace(failed, reason: reason)
    }

    /// New sends go to a fresh client, and every message still held by the old one is purged
    /// and failed. Runs on the poll thread only.
    private func replace(_ failed: Client, reason: String) {
        logger.warning("Kafka producer client is being replaced", metadata: ["reason": "\(reason)"])
        let replacement: Client
        do {
            replacement = try Self.makeClient(configuration: configuration, context: context)
        } catch {
            logger.critical("Could not recreate the Kafka producer: \(error)")
            return
        }
        let swapped = client.withLock { current -> Bool in
            guard !replacementsStopped.load(ordering: .acquiring), let existing = current, existing.handle == failed.handle else { return false }
            current = replacement
            return true
        }
        guard swapped else {
            rd_kafka_queue_destroy(replacement.queue)
            destroyRdKafkaHandle(replacement.handle)
            return
        }
        recreatedCounter.increment()
        retire(failed, drainFor: .seconds(5))
    }

    /// Purges a client that no longer takes sends, completes what it still reports, and
    /// destroys it. Runs on the poll thread only.
    private func retire(_ old: Client, drainFor limit: Duration) {
        rd_kafka_purge(old.handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING))
        let deadline = ContinuousClock.now + limit
        while rd_kafka_outq_len(old.handle) > 0, ContinuousClock.now < deadline {
            serveEvent(from: old, timeoutMilliseconds: 100)
        }
        rd_kafka_queue_destroy(old.queue)
        destroyRdKafkaHandle(old.handle)
    }

    // MARK: Shutdown

    /// Stops accepting sends, waits up to `flushTimeout` for every message to be delivered,
    /// then purges and fails whatever is left, and releases the client. Idempotent.
    public func shutdown(flushTimeout: Duration = .seconds(10)) async {
        let waiters: [CheckedContinuation<Bool, Never>]? = state.withLock { state in
            guard state.lifecycle == .running else { return nil }
            state.lifecycle = .shuttingDown
            defer { state.slotWaiters = [] }
            return state.slotWaiters
        }
        guard let waiters else { return }
        for waiter in waiters { waiter.resume(returning: false) }

        let flushing = client.withLock { current -> Client? in
            replacementsStopped.store(true, ordering: .releasing)
            return current
        }
        if let current = flushing {
            let handle = UnsafeHandle(pointer: current.handle)
            let logger = self.logger
            await BlockingCalls.run {
                let flushed = rd_kafka_flush(handle.pointer, Int32(flushTimeout.milliseconds))
                if flushed != RD_KAFKA_RESP_ERR_NO_ERROR {
                    logger.warning(
                        "Kafka producer flush timed out; purging undelivered messages",
                        metadata: [
                            "messages": "\(rd_kafka_outq_len(handle.pointer))"
                        ])
                    rd_kafka_purge(handle.pointer, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
                    _ = rd_kafka_flush(handle.pointer, 2000)
                }
            }
        }
        stopPolling.store(true, ordering: .releasing)
        wakePollThread()
        let finished = pollThreadFinished
        await BlockingCalls.run { finished.wait() }

        let leftovers: [Completion] = state.withLock { state in
            state.lifecycle = .closed
            defer { state.pending = [:] }
            return Array(state.pending.values)
        }
        for completion in leftovers {
            completion(.failure(KafkaError(.shutdown, "the producer shut down before the message was delivered")))
        }
        if let last = client.withLock({ current -> Client? in
            defer { current = nil }; return current
        }) {
            let handle = UnsafeHandle(pointer: last.handle)
            let queue = UnsafeHandle(pointer: last.queue)
            await BlockingCalls.run {
                rd_kafka_queue_destroy(queue.pointer)
                destroyRdKafkaHandle(handle.pointer)
            }
        }
    }

    /// Raises a fatal error inside librdkafka, as a real idempotence failure would.
    /// For tests of the recovery path only.
    public func _injectFatalError(reason: String) {
        client.withLock { current in
            if let current { _ = rd_kafka_test_fatal_error(current.handle, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason) }
        }
    }
}

extension Optional where Wrapped == [UInt8] {
    /// Calls `body` with a pointer and length for the bytes, or NULL and 0 when nil.
    func withOptionalBytes<R>(_ body: (UnsafeRawPointer?, Int) -> R) -> R {
        guard let bytes = self else { return body(nil, 0) }
        return bytes.withUnsafeBytes { buffer in
            // An empty array still gets a non-NULL pointer, so an empty value is not a tombstone.
            body(buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), buffer.count)
        }
    }
}

/// Gathers one outcome per index and hands them all over once the last one arrived.
/// The outstanding deliveries of messages enqueued together (`KafkaProducer.enqueueOrdered`).
public struct KafkaDeliveries: Sendable {
    fileprivate let collector: OutcomeCollector

    /// Waits until every message has its outcome, and returns them in enqueue order. Every message
    /// gets one: a delivery report, or a failure once the delivery timeout has passed.
    public func outcomes() async -> [Result<KafkaDeliveryReport, KafkaError>] {
        await collector.results()
    }

    /// Whether every message has its outcome (`outcomes()` would return at once).
    public var isComplete: Bool { collector.isComplete }
}

private final class OutcomeCollector: Sendable {
    private typealias Outcome = Result<KafkaDeliveryReport, KafkaError>
    private struct State {
        var results: [Outcome?]
        var remaining: Int
        var waiter: CheckedContinuation<[Outcome], Never>?
    }
    private let state: Mutex<State>
    private let whenDone: (@Sendable () -> Void)?

    init(count: Int, whenDone: (@Sendable () -> Void)? = nil) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count, waiter: nil))
        self.whenDone = whenDone
        if count == 0 { whenDone?() }
    }

    var isComplete: Bool { state.withLock { $0.remaining == 0 } }

    func record(_ index: Int, _ result: Result<KafkaDeliveryReport, KafkaError>) {
        let (done, finished): (Bool, (CheckedContinuation<[Outcome], Never>, [Outcome])?) = state.withLock { state in
            guard state.results[index] == nil else { return (false, nil) }
            state.results[index] = result
            state.remaining -= 1
            guard state.remaining == 0 else { return (false, nil) }
            guard let waiter = state.waiter else { return (true, nil) }
            state.waiter = nil
            return (true, (waiter, state.results.compactMap { $0 }))
        }
        if let (waiter, results) = finished { waiter.resume(returning: results) }
        if done { whenDone?() }
    }

    func results() async -> [Result<KafkaDeliveryReport, KafkaError>] {
        await withCheckedContinuation { continuation in
            let ready: [Outcome]? = state.withLock { state in
                if state.remaining == 0 { return state.results.compactMap { $0 } }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
