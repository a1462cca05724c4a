import Testing

@testable import Kafka

/// The consumer's hand-over between poll thread and application, with no librdkafka: readers and
/// close waiters are plain numbers here.
@Suite("Consumer state machine")
struct ConsumerStateMachineTests {
    typealias Machine = ConsumerStateMachine<Int, Int>

    static func batch(_ offsets: [Int64], partition: Int32 = 0) -> KafkaConsumerBatch {
        KafkaConsumerBatch(messages: offsets.map { KafkaConsumerMessage(topic: "t", partition: .init(partition), offset: .init($0), value: nil) })
    }

    @Test func aWaitingReaderGetsTheNextBatchDirectly() {
        var machine = Machine(bufferedBatches: 2)
        guard case .wait = machine.nextBatch(reader: 1, cancelled: false) else { Issue.record("nothing buffered: the reader waits"); return }
        guard case .handOver(let reader) = machine.deliver(Self.batch([0])) else { Issue.record("the waiting reader takes it"); return }
        #expect(reader == 1)
        #expect(machine.batchInApplication)
    }

    @Test func theBufferIsBoundedAndTakingABatchWakesThePollThread() {
        var machine = Machine(bufferedBatches: 2)
        let first = machine.deliver(Self.batch([0])), second = machine.deliver(Self.batch([1]))
        #expect(first.isDone && second.isDone)
        guard case .waitForSpace = machine.deliver(Self.batch([2])) else { Issue.record("a third batch must wait"); return }
        guard case .batch(let handed, let wakeups) = machine.nextBatch(reader: 1, cancelled: false) else { Issue.record("a buffered batch is handed out"); return }
        #expect(handed.messages.map(\.offset.rawValue) == [0])
        #expect(wakeups.pollThread, "the poll thread waiting for space is woken")
        #expect(machine.buffered.count == 1)
    }

    @Test func closingEndsTheWaitingReaderAndDropsWhatIsDeliveredAfter() {
        var machine = Machine(bufferedBatches: 1)
        _ = machine.nextBatch(reader: 7, cancelled: false)
        let (reader, _) = machine.beginClose(settlingApplication: true)
        #expect(reader == 7, "the waiting reader is ended")
        let late = machine.deliver(Self.batch([0]))
        #expect(late.isDone)
        #expect(machine.buffered.isEmpty, "nothing is buffered once closing")
        guard case .end(let closeNow, _) = machine.nextBatch(reader: 8, cancelled: false) else { Issue.record("no batch after close"); return }
        #expect(!closeNow)
        let waits = machine.waitForClose(1)
        #expect(waits)
        let (endReader, waiters) = machine.finished()
        #expect(endReader == nil && waiters == [1])
        let waitsAfterClose = machine.waitForClose(2)
        #expect(!waitsAfterClose, "after the close, a waiter resumes at once")
    }

    @Test func closingWakesAPollThreadWaitingForSpace() {
        var machine = Machine(bufferedBatches: 1)
        _ = machine.deliver(Self.batch([0]))
        _ = machine.deliver(Self.batch([1]))
        let (_, wakeups) = machine.beginClose(settlingApplication: false)
        #expect(wakeups.pollThread)
    }

    @Test func aCancelledReaderEndsAndBeginsTheClose() {
        var machine = Machine(bufferedBatches: 1)
        _ = machine.deliver(Self.batch([0]))
        guard case .end(let closeNow, _) = machine.nextBatch(reader: 1, cancelled: true) else { Issue.record("cancelled: the sequence ends"); return }
        #expect(closeNow)
    }

    @Test func aRevokeDropsBufferedMessagesOfItsPartitionsAndWaitsForTheBatchInHand() {
        var machine = Machine(bufferedBatches: 3)
        let kept = KafkaTopicPartition(topic: "t", partition: .init(1))
        let revoked = KafkaTopicPartition(topic: "t", partition: .init(0))
        machine.assigned([kept, revoked])
        _ = machine.deliver(Self.batch([0, 1], partition: 0))
        _ = machine.deliver(KafkaConsumerBatch(messages: Self.batch([5], partition: 0).messages + Self.batch([9], partition: 1).messages))
        _ = machine.nextBatch(reader: 1, cancelled: false)  // the application holds the first batch
        let mustWait = machine.revoking([revoked])
        #expect(mustWait, "the batch in the application's hands must settle first")
        #expect(machine.buffered.flatMap(\.messages).map(\.offset.rawValue) == [9], "only the kept partition's messages stay")
        guard case .batch(_, let wakeups) = machine.nextBatch(reader: 2, cancelled: false) else { Issue.record("the kept message is handed out"); return }
        #expect(wakeups.rebalance, "asking for the next batch settles the one held and wakes the rebalance")
        machine.revoked([revoked])
        #expect(machine.assignment == [kept])
    }

    @Test func aRebalanceThatGaveUpIsNotWokenLater() {
        var machine = Machine(bufferedBatches: 1)
        _ = machine.deliver(Self.batch([0]))
        _ = machine.nextBatch(reader: 1, cancelled: false)
        let mustWait = machine.revoking([])
        #expect(mustWait)
        machine.rebalanceGaveUpWaiting()
        guard case .wait(let wakeups) = machine.nextBatch(reader: 2, cancelled: false) else { Issue.record("nothing buffered"); return }
        #expect(!wakeups.rebalance)
    }
}

extension ConsumerStateMachine.Delivery {
    var isDone: Bool { if case .done = self { true } else { false } }
}
