/// A partition number of a topic. Value type around librdkafka's `int32_t`.
public struct KafkaPartition: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ value: Int32) { self.rawValue = value }

    /// Let the partitioner choose (by key hash when there is a key).
    public static let unassigned = KafkaPartition(rawValue: -1)

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// A position in a partition. Non-negative values are real offsets; negative values are
/// librdkafka's logical offsets.
public struct KafkaOffset: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ value: Int64) { self.rawValue = value }

    /// The first message still retained in the partition.
    public static let beginning = KafkaOffset(rawValue: -2)
    /// The offset after the last message (the high watermark).
    public static let end = KafkaOffset(rawValue: -1)
    /// No offset (e.g. a group that has never committed for a partition).
    public static let invalid = KafkaOffset(rawValue: -1001)

    /// True for a real position rather than a logical one.
    public var isConcrete: Bool { rawValue >= 0 }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String {
        switch self {
        case .beginning: "beginning"
        case .end: "end"
        case .invalid: "none"
        default: String(rawValue)
        }
    }
}

/// One partition of one topic.
public struct KafkaTopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: KafkaPartition
    public init(topic: String, partition: KafkaPartition) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.topic, lhs.partition.rawValue) < (rhs.topic, rhs.partition.rawValue)
    }
    public var description: String { "\(topic)[\(partition)]" }
}

/// A partition together with an offset: a committed position, a replay target, a watermark.
public struct KafkaTopicPartitionOffset: Hashable, Sendable, CustomStringConvertible {
    public var topicPartition: KafkaTopicPartition
    public var offset: KafkaOffset
    public init(topicPartition: KafkaTopicPartition, offset: KafkaOffset) {
        self.topicPartition = topicPartition
        self.offset = offset
    }
    public init(topic: String, partition: KafkaPartition, offset: KafkaOffset) {
        self.init(topicPartition: .init(topic: topic, partition: partition), offset: offset)
    }
    public var topic: String { topicPartition.topic }
    public var partition: KafkaPartition { topicPartition.partition }
    public var description: String { "\(topicPartition)@\(offset)" }
}
