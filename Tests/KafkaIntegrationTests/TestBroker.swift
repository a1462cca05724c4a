import Foundation
import Kafka
import Logging
import Testing

/// The real broker the test command starts (`make test`). When `TALLY_REQUIRE_INTEGRATION=1`
/// a missing broker fails the tests instead of skipping them.
enum TestBroker {
    static let bootstrapServers: String? = ProcessInfo.processInfo.environment["TALLY_TEST_KAFKA_BROKERS"]
    static let required = ProcessInfo.processInfo.environment["TALLY_REQUIRE_INTEGRATION"] == "1"
    static var enabled: Bool { bootstrapServers != nil || required }

    static func client(_ clientID: String = "it") throws -> KafkaClientConfiguration {
        guard let bootstrapServers else {
            throw KafkaError(.configuration, "TALLY_TEST_KAFKA_BROKERS is not set; run the tests with `make test`")
        }
        return KafkaClientConfiguration(bootstrapServers: [bootstrapServers], clientID: clientID, statisticsInterval: nil)
    }

    static let logger: Logger = {
        var logger = Logger(label: "kafka-it")
        logger.logLevel = .error
        return logger
    }()

    /// Creates a topic with a unique name for one test.
    static func freshTopic(_ prefix: String, partitions: Int32) async throws -> String {
        let name = "it-\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        let admin = try KafkaAdmin(configuration: client("it-admin"), logger: logger)
        _ = try await admin.createTopics([KafkaTopicSpecification(name: name, partitions: partitions)])
        await admin.close()
        return name
    }

    static func consumerConfiguration(group: String, topic: String) throws -> KafkaConsumerConfiguration {
        KafkaConsumerConfiguration(
            client: try client("it-consumer"), groupID: group, topics: [topic],
            sessionTimeout: .seconds(6), heartbeatInterval: .milliseconds(500)
        )
    }

    static func produce(_ values: [String], to topic: String, keyed: Bool = true) async throws -> [KafkaDeliveryReport] {
        let producer = try KafkaProducer(configuration: .init(client: client("it-producer")), logger: logger)
        let reports = try await producer.sendAll(
            values.map {
                KafkaProducerMessage(topic: topic, key: keyed ? Array($0.utf8) : nil, value: Array($0.utf8))
            })
        await producer.shutdown()
        return reports
    }
}

/// Reads from `consumer`, storing after each batch, until `expected` messages arrived or
/// `limit` passed, then keeps listening for `grace` to catch any extra (duplicate) delivery.
func drain(_ consumer: KafkaConsumer, expected: Int, limit: Duration = .seconds(40), grace: Duration = .seconds(1)) async throws -> [KafkaConsumerMessage] {
    let collected = CollectedMessages()
    let reader = Task {
        for await batch in consumer.batches {
            collected.append(batch.messages)
            try consumer.store(batch)
        }
    }
    let deadline = ContinuousClock.now + limit
    while collected.count < expected, ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(100))
    }
    try await Task.sleep(for: grace)
    reader.cancel()
    _ = await reader.result
    await consumer.close()
    return collected.messages
}

final class CollectedMessages: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [KafkaConsumerMessage] = []
    func append(_ messages: [KafkaConsumerMessage]) { lock.withLock { storage += messages } }
    var messages: [KafkaConsumerMessage] { lock.withLock { storage } }
    var count: Int { lock.withLock { storage.count } }
}

extension Array where Element == KafkaConsumerMessage {
    var values: [String] { map { String(decoding: $0.value ?? [], as: UTF8.self) } }
}
