import Foundation

/// A message as read from a partition. `value == nil` is a tombstone, delivered like any
/// other message.
public struct KafkaConsumerMessage: Sendable, Hashable {
    public var topic: String
    public var partition: KafkaPartition
    public var offset: KafkaOffset
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    /// The message timestamp (create or log-append time), when the broker sent one.
    public var timestamp: Date?

    public init(
        topic: String, partition: KafkaPartition, offset: KafkaOffset,
        key: [UInt8]? = nil, value: [UInt8]?, headers: [KafkaHeader] = [], timestamp: Date? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    public var topicPartition: KafkaTopicPartition { .init(topic: topic, partition: partition) }
    public var isTombstone: Bool { value == nil }
    /// The key decoded as UTF-8.
    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
}

/// Messages handed to the application together. Within one partition they are in offset order.
public struct KafkaConsumerBatch: Sendable {
    public var messages: [KafkaConsumerMessage]

    public init(messages: [KafkaConsumerMessage]) { self.messages = messages }

    /// For each partition in the batch, the offset to store once every message of the batch
    /// is applied: its highest offset plus one.
    public var nextOffsets: [KafkaTopicPartitionOffset] {
        var highest: [KafkaTopicPartition: KafkaOffset] = [:]
        for message in messages {
            highest[message.topicPartition] = max(highest[message.topicPartition] ?? message.offset, message.offset)
        }
        return highest.sorted { $0.key < $1.key }.map {
            KafkaTopicPartitionOffset(topicPartition: $0.key, offset: KafkaOffset($0.value.rawValue + 1))
        }
    }
}
