import Foundation
import Kafka
import Testing

@Suite("Kafka client against the real broker", .enabled(if: TestBroker.enabled), .serialized)
struct KafkaBrokerTests {
    @Test func roundTripKeepsKeyHeadersAndValue() async throws {
        let topic = try await TestBroker.freshTopic("roundtrip", partitions: 3)
        let producer = try KafkaProducer(configuration: .init(client: TestBroker.client()), logger: TestBroker.logger)
        let headers = [KafkaHeader(key: "ce-id", string: "0193-abc"), KafkaHeader(key: "ce-type", string: "tally.test.v1")]
        let report = try await producer.send(KafkaProducerMessage(topic: topic, key: "payment-42", value: Array(#"{"amount":1999}"#.utf8), headers: headers))
        await producer.shutdown()
        #expect(report.offset == KafkaOffset(0))

        let consumer = try KafkaConsumer(configuration: TestBroker.consumerConfiguration(group: "g-\(topic)", topic: topic), logger: TestBroker.logger)
        let messages = try await drain(consumer, expected: 1)
        #expect(messages.count == 1)
        #expect(messages.first?.keyString == "payment-42")
        #expect(messages.first?.headers == headers)
        #expect(messages.values == [#"{"amount":1999}"#])
        #expect(messages.first?.partition == report.partition)
    }

    @Test func creatingTopicsTwiceIsHarmless() async throws {
        let admin = try KafkaAdmin(configuration: TestBroker.client(), logger: TestBroker.logger)
        let name = "it-create-\(UUID().uuidString.prefix(8).lowercased())"
        let first = try await admin.createTopics([KafkaTopicSpecification(name: name, partitions: 4)])
        let second = try await admin.createTopics([KafkaTopicSpecification(name: name, partitions: 4)])
        let topics = try await admin.topics()
        await admin.close()
        #expect(first == [name: .created])
        #expect(second == [name: .alreadyExisted])
        #expect(topics.first { $0.name == name }?.partitions.count == 4)
    }

    @Test func twoMembersSplitThePartitionsAndSeeEachMessageOnce() async throws {
        let topic = try await TestBroker.freshTopic("split", partitions: 4)
        let group = "g-\(topic)"
        let first = try KafkaConsumer(configuration: TestBroker.consumerConfiguration(group: group, topic: topic), logger: TestBroker.logger)
        let second = try KafkaConsumer(configuration: TestBroker.consumerConfiguration(group: group, topic: topic), logger: TestBroker.logger)
        let firstSeen = CollectedMessages()
        let secondSeen = CollectedMessages()
        let readers = [(first, firstSeen), (second, secondSeen)].map { consumer, seen in
            Task {
                for await batch in consumer.batches {
                    seen.append(batch.messages)
                    try consumer.store(batch)
                }
            }
        }
        // Wait until the group settled with both members owning partitions.
        let settleBy = ContinuousClock.now + .seconds(30)
        while first.assignment.isEmpty || second.assignment.isEmpty || first.assignment.count + second.assignment.count != 4, ContinuousClock.now < settleBy {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(!first.assignment.isEmpty && !second.assignment.isEmpty, "both members own partitions")
        #expect(first.assignment.isDisjoint(with: second.assignment))

        let values = (0..<200).map { "m-\($0)" }
        _ = try await TestBroker.produce(values, to: topic)
        let deadline = ContinuousClock.now + .seconds(30)
        while firstSeen.count + secondSeen.count < 200, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: .seconds(1))
        for reader in readers { reader.cancel() }
        await first.close()
        await second.close()

        let all = firstSeen.messages.values + secondSeen.messages.values
        #expect(all.count == 200, "each message once: \(all.count) deliveries")
        #expect(Set(all) == Set(values))
        #expect(!firstSeen.messages.isEmpty && !secondSeen.messages.isEmpty)
        #expect(Set(firstSeen.messages.map(\.partition)).isDisjoint(with: Set(secondSeen.messages.map(\.partition))))
    }

    @Test func replayToATimestampRedeliversExactlyFromThatTime() async throws {
        let topic = try await TestBroker.freshTopic("replay", partitions: 2)
        let group = "g-\(topic)"
        let early = (0..<12).map { "early-\($0)" }
        let late = (0..<9).map { "late-\($0)" }
        _ = try await TestBroker.produce(early, to: topic)
        try await Task.sleep(for: .milliseconds(1500))
        let replayFrom = Date()
        try await Task.sleep(for: .milliseconds(1500))
        _ = try await TestBroker.produce(late, to: topic)

        let firstPass = try await drain(try KafkaConsumer(configuration: TestBroker.consumerConfiguration(group: group, topic: topic), logger: TestBroker.logger), expected: 21)
        #expect(firstPass.count == 21)

        let admin = try KafkaAdmin(configuration: TestBroker.client(), logger: TestBroker.logger)
        let lagBefore = try await admin.lag(group: group)
        #expect(lagBefore.reduce(0) { $0 + $1.lag } == 0, "the group consumed everything")
        let targets = try await admin.offsets(at: replayFrom, topics: [topic])
        try await admin.alterGroupOffsets(group: group, to: targets)
        let lagAfter = try await admin.lag(group: group)
        await admin.close()
        #expect(lagAfter.reduce(0) { $0 + $1.lag } == Int64(late.count), "lag equals what will be replayed")

        let replayed = try await drain(
            try KafkaConsumer(configuration: TestBroker.consumerConfiguration(group: group, topic: topic), logger: TestBroker.logger), expected: late.count, grace: .seconds(2))
        #expect(replayed.values.sorted() == late.sorted())
    }

    @Test func offsetsCannotBeChangedWhileTheGroupHasMembers() async throws {
        let topic = try await TestBroker.freshTopic("active", partitions: 1)
        let group = "g-\(topic)"
        _ = try await TestBroker.produce(["only"], to: topic)
        let consumer = try KafkaConsumer(configuration: TestBroker.consumerConfiguration(group: group, topic: topic), logger: TestBroker.logger)
        let seen = CollectedMessages()
        let reader = Task {
            for await batch in consumer.batches {
                seen.append(batch.messages)
                try consumer.store(batch)
                try await consumer.commit()
            }
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while seen.count == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(consumer.assignment == [KafkaTopicPartition(topic: topic, partition: .init(0))])

        let admin = try KafkaAdmin(configuration: TestBroker.client(), logger: TestBroker.logger)
        let description = try await admin.describeGroup(group)
        #expect(description.hasActiveMembers, "a group with a running member is active (state \(description.state))")
        await #expect {
            try await admin.alterGroupOffsets(group: group, to: [KafkaTopicPartitionOffset(topic: topic, partition: .init(0), offset: .init(0))])
        } throws: { error in
            (error as? KafkaError)?.kind == .groupActive
        }
        let listed = try await admin.listGroups()
        #expect(listed.contains { $0.groupID == group })

        reader.cancel()
        await consumer.close()
        let after = try await admin.describeGroup(group)
        #expect(!after.hasActiveMembers, "close left the group (state \(after.state))")
        // Once the group is empty the same change is accepted.
        try await admin.alterGroupOffsets(group: group, to: [KafkaTopicPartitionOffset(topic: topic, partition: .init(0), offset: .init(0))])
        let committed = try await admin.committedOffsets(group: group)
        await admin.close()
        #expect(committed == [KafkaTopicPartitionOffset(topic: topic, partition: .init(0), offset: .init(0))])
    }
}
