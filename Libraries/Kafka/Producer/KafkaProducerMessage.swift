/// A message to publish. `value == nil` publishes a tombstone.
public struct KafkaProducerMessage: Sendable, Equatable {
    public var topic: String
    /// `.unassigned` lets the partitioner choose from the key, which keeps per-key order.
    public var partition: KafkaPartition
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]

    public init(
        topic: String,
        partition: KafkaPartition = .unassigned,
        key: [UInt8]? = nil,
        value: [UInt8]?,
        headers: [KafkaHeader] = []
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// A message with a UTF-8 string key.
    public init(topic: String, key: String, value: [UInt8]?, headers: [KafkaHeader] = []) {
        self.init(topic: topic, key: Array(key.utf8), value: value, headers: headers)
    }
}

/// Where the broker stored a message: the proof that it was durably accepted.
public struct KafkaDeliveryReport: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: KafkaPartition
    public var offset: KafkaOffset

    public init(topic: String, partition: KafkaPartition, offset: KafkaOffset) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public var description: String { "\(topic)[\(partition)]@\(offset)" }
}
