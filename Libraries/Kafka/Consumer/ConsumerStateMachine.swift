/// The consumer's hand-over between its poll thread and the application, as a value with no
/// librdkafka in it: every event returns what to do, and the caller does it outside the lock
/// (resume a reader, wake the poll thread, wake a waiting rebalance). `KafkaConsumer` keeps one
/// behind a mutex.
///
/// `Reader` is whatever the application waits with (a continuation in the consumer, a plain
/// value in tests); `CloseWaiter` likewise.
///
/// Invariants:
/// - At most `bufferedBatches` batches wait; beyond that the poll thread is told to wait.
/// - Once closing, no batch is handed out or buffered: their partitions are being released
///   and their offsets will never be stored.
/// - A rebalance that waits for the application's batch is woken exactly once: when the
///   application asks for the next batch, closes, or the rebalance gives up waiting.
struct ConsumerStateMachine<Reader, CloseWaiter> {
    enum Lifecycle: Equatable { case running, closing, closed }

    private(set) var lifecycle = Lifecycle.running
    private(set) var buffered: [KafkaConsumerBatch] = []
    private(set) var assignment: Set<KafkaTopicPartition> = []
    private var waitingReader: Reader?
    /// A batch was handed out and the application has not asked for the next one yet.
    private(set) var batchInApplication = false
    private var pollThreadWaitsForSpace = false
    private var rebalanceWaitsForSettle = false
    private var closeWaiters: [CloseWaiter] = []
    let bufferedBatches: Int

    init(bufferedBatches: Int) {
        precondition(bufferedBatches > 0, "bufferedBatches must be positive")
        self.bufferedBatches = bufferedBatches
    }

    var isRunning: Bool { lifecycle == .running }

    /// Side effects an event asks for.
    struct Wakeups: Equatable {
        /// Signal the poll thread that there is space (or that it should stop waiting).
        var pollThread = false
        /// Signal the rebalance waiting for the application's batch.
        var rebalance = false
    }

    // MARK: Application side

    enum NextBatch {
        /// Give the reader this batch.
        case batch(KafkaConsumerBatch, Wakeups)
        /// The sequence ends; `closeNow` when the caller must begin closing (cancelled).
        case end(closeNow: Bool, Wakeups)
        /// The reader was kept; a batch or the end will come through `deliver` or `close`.
        case wait(Wakeups)
    }

    /// The application asks for the next batch, which also settles the one it held.
    mutating func nextBatch(reader: Reader, cancelled: Bool) -> NextBatch {
        var wakeups = settle()
        if cancelled { return .end(closeNow: true, wakeups) }
        guard lifecycle == .running else { return .end(closeNow: false, wakeups) }
        if !buffered.isEmpty {
            let batch = buffered.removeFirst()
            batchInApplication = true
            if pollThreadWaitsForSpace {
                pollThreadWaitsForSpace = false
                wakeups.pollThread = true
            }
            return .batch(batch, wakeups)
        }
        waitingReader = reader
        return .wait(wakeups)
    }

    /// Marks the batch in the application's hands as finished.
    private mutating func settle() -> Wakeups {
        guard batchInApplication else { return Wakeups() }
        batchInApplication = false
        guard rebalanceWaitsForSettle else { return Wakeups() }
        rebalanceWaitsForSettle = false
        return Wakeups(rebalance: true)
    }

    /// Closing begins (by `close()` or cancellation). Returns the waiting reader, to be resumed
    /// with the end of the sequence, and what to wake. `settlingApplication`: the batch the
    /// application held counts as finished (an explicit close), not so on cancellation.
    mutating func beginClose(settlingApplication: Bool) -> (endReader: Reader?, wakeups: Wakeups) {
        if lifecycle == .running { lifecycle = .closing }
        var wakeups = settlingApplication ? settle() : Wakeups()
        if pollThreadWaitsForSpace {
            pollThreadWaitsForSpace = false
            wakeups.pollThread = true
        }
        defer { waitingReader = nil }
        return (waitingReader, wakeups)
    }

    /// Someone waits for the close to finish; false when it already has (resume at once).
    mutating func waitForClose(_ waiter: CloseWaiter) -> Bool {
        guard lifecycle != .closed else { return false }
        closeWaiters.append(waiter)
        return true
    }

    // MARK: Poll thread

    enum Delivery {
        /// Resume this reader with the batch.
        case handOver(Reader)
        /// Buffered, or dropped because the consumer is closing: nothing to do.
        case done
        /// The buffer is full: wait for space (or close), then deliver again.
        case waitForSpace
    }

    /// The poll thread has a batch.
    mutating func deliver(_ batch: KafkaConsumerBatch) -> Delivery {
        guard lifecycle == .running else { return .done }
        if let reader = waitingReader {
            waitingReader = nil
            batchInApplication = true
            return .handOver(reader)
        }
        if buffered.count < bufferedBatches {
            buffered.append(batch)
            return .done
        }
        pollThreadWaitsForSpace = true
        return .waitForSpace
    }

    // MARK: Rebalance (on the poll thread)

    mutating func assigned(_ partitions: [KafkaTopicPartition]) {
        assignment.formUnion(partitions)
    }

    /// Partitions are being revoked: their buffered messages are dropped (the next owner reads
    /// them). Returns whether the rebalance must wait for the application's batch to settle.
    mutating func revoking(_ partitions: Set<KafkaTopicPartition>) -> Bool {
        buffered = buffered.compactMap { batch in
            let kept = batch.messages.filter { !partitions.contains($0.topicPartition) }
            return kept.isEmpty ? nil : KafkaConsumerBatch(messages: kept)
        }
        guard batchInApplication else { return false }
        rebalanceWaitsForSettle = true
        return true
    }

    /// The rebalance stopped waiting for the application (its timeout passed).
    mutating func rebalanceGaveUpWaiting() {
        rebalanceWaitsForSettle = false
    }

    mutating func revoked(_ partitions: Set<KafkaTopicPartition>) {
        assignment.subtract(partitions)
    }

    mutating func rebalanceFailed() {
        assignment = []
    }

    /// The client is gone: the sequence ends for a waiting reader and every close waiter resumes.
    mutating func finished() -> (endReader: Reader?, closeWaiters: [CloseWaiter]) {
        lifecycle = .closed
        assignment = []
        buffered = []
        defer {
            waitingReader = nil
            closeWaiters = []
        }
        return (waitingReader, closeWaiters)
    }
}
