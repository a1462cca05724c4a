import Foundation
import Testing

@testable import Kafka

@Suite("Consumer on the mock cluster")
struct KafkaConsumerTests {
    private func consumerConfiguration(_ cluster: MockCluster, group: String, topic: String, batch: Int = 500) -> KafkaConsumerConfiguration {
        KafkaConsumerConfiguration(
            client: cluster.client, groupID: group, topics: [topic], maxBatchSize: batch,
            sessionTimeout: .seconds(6), heartbeatInterval: .milliseconds(500)
        )
    }

    /// Reads batches until `count` messages arrived or the time runs out.
    private func collect(_ consumer: KafkaConsumer, count: Int, within limit: Duration = .seconds(20), storing: Bool = true) async throws -> [KafkaConsumerMessage] {
        try await withThrowingTaskGroup(of: [KafkaConsumerMessage].self) { group in
            group.addTask {
                var seen: [KafkaConsumerMessage] = []
                for await batch in consumer.batches {
                    seen += batch.messages
                    if storing { try consumer.store(batch) }
                    if seen.count >= count { break }
                }
                return seen
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return []
            }
            let first = try await group.next() ?? []
            group.cancelAll()
            return first
        }
    }

    @Test func tombstonesAndHeadersArriveIntact() async throws {
        try await withMockCluster { cluster in
            cluster.createTopic("facts", partitions: 1)
            let producer = try KafkaProducer(configuration: .init(client: cluster.client), logger: quietLogger)
            let headers = [KafkaHeader(key: "ce-type", string: "tally.test.v1"), KafkaHeader(key: "empty", value: nil)]
            _ = try await producer.send(KafkaProducerMessage(topic: "facts", key: "k1", value: Array("hello".utf8), headers: headers))
            _ = try await producer.send(KafkaProducerMessage(topic: "facts", key: "k1", value: nil))
            await producer.shutdown()

            let consumer = try KafkaConsumer(configuration: consumerConfiguration(cluster, group: "g-tomb", topic: "facts"), logger: quietLogger)
            let messages = try await collect(consumer, count: 2)
            await consumer.close()

            #expect(messages.count == 2)
            #expect(messages.first?.value == Array("hello".utf8))
            #expect(messages.first?.headers == headers)
            #expect(messages.first?.keyString == "k1")
            #expect(messages.last?.isTombstone == true)
        }
    }

    @Test func onlyStoredOffsetsAreCommitted() async throws {
        try await withMockCluster { cluster in
            cluster.createTopic("ledger", partitions: 1)
            let producer = try KafkaProducer(configuration: .init(client: cluster.client), logger: quietLogger)
            _ = try await producer.sendAll((0..<10).map { KafkaProducerMessage(topic: "ledger", value: Array("m\($0)".utf8)) })
            await producer.shutdown()

            // The first member applies five messages and stores only those.
            let first = try KafkaConsumer(configuration: consumerConfiguration(cluster, group: "g-store", topic: "ledger"), logger: quietLogger)
            let seen = try await collect(first, count: 10, storing: false)
            #expect(seen.count == 10)
            try first.store(seen[4])
            try await first.commit()
            await first.close()

            // Its replacement resumes right after the last stored message.
            let second = try KafkaConsumer(configuration: consumerConfiguration(cluster, group: "g-store", topic: "ledger"), logger: quietLogger)
            let resumed = try await collect(second, count: 5)
            await second.close()
            #expect(resumed.map(\.offset.rawValue) == [5, 6, 7, 8, 9])
        }
    }

    @Test func batchesAreBoundedAndInOffsetOrder() async throws {
        try await withMockCluster { cluster in
            cluster.createTopic("many", partitions: 1)
            let producer = try KafkaProducer(configuration: .init(client: cluster.client), logger: quietLogger)
            _ = try await producer.sendAll((0..<250).map { KafkaProducerMessage(topic: "many", value: Array("\($0)".utf8)) })
            await producer.shutdown()

            let consumer = try KafkaConsumer(configuration: consumerConfiguration(cluster, group: "g-batch", topic: "many", batch: 40), logger: quietLogger)
            var sizes: [Int] = []
            var offsets: [Int64] = []
            for await batch in consumer.batches {
                sizes.append(batch.messages.count)
                offsets += batch.messages.map(\.offset.rawValue)
                try consumer.store(batch)
                if offsets.count >= 250 { break }
            }
            await consumer.close()
            #expect(sizes.allSatisfy { $0 <= 40 })
            #expect(offsets == Array(0..<250))
        }
    }

    @Test func cancellingTheIteratingTaskClosesTheConsumer() async throws {
        try await withMockCluster { cluster in
            cluster.createTopic("idle", partitions: 1)
            let consumer = try KafkaConsumer(configuration: consumerConfiguration(cluster, group: "g-cancel", topic: "idle"), logger: quietLogger)
            let loop = Task { for await _ in consumer.batches {} }
            try await Task.sleep(for: .milliseconds(500))
            loop.cancel()
            await loop.value
            // close() returns at once only if cancellation already left the group.
            let closed = Task {
                await consumer.close(); return true
            }
            #expect(await closed.value)
            #expect(consumer.assignment.isEmpty)
            #expect(throws: KafkaError.self) { try consumer.store([KafkaTopicPartitionOffset(topic: "idle", partition: .init(0), offset: .init(1))]) }
        }
    }

    @Test func nextOffsetsAreTheHighestOffsetPlusOnePerPartition() {
        let batch = KafkaConsumerBatch(messages: [
            KafkaConsumerMessage(topic: "t", partition: .init(0), offset: .init(4), value: nil),
            KafkaConsumerMessage(topic: "t", partition: .init(1), offset: .init(9), value: nil),
            KafkaConsumerMessage(topic: "t", partition: .init(0), offset: .init(5), value: nil),
        ])
        #expect(
            batch.nextOffsets == [
                KafkaTopicPartitionOffset(topic: "t", partition: .init(0), offset: .init(6)),
                KafkaTopicPartitionOffset(topic: "t", partition: .init(1), offset: .init(10)),
            ])
    }
}
