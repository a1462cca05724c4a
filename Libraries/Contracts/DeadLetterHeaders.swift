/// The Kafka headers a dead-lettered message carries beside its own, unchanged headers: why it
/// was set aside and where it came from. Every service writes them through this one type, and
/// operators' tools read them back through it.
public struct DeadLetterHeaders: Sendable, Equatable {
    /// The longest reason kept; a longer one is cut (a decoding error can quote a whole payload).
    public static let maximumReasonLength = 2000

    public static let reasonKey = "x-tally-dlq-reason"
    public static let topicKey = "x-tally-dlq-topic"
    public static let partitionKey = "x-tally-dlq-partition"
    public static let offsetKey = "x-tally-dlq-offset"
    public static let groupKey = "x-tally-dlq-group"

    /// What could not be done with the message, specific enough to act on.
    public var reason: String
    /// The topic, partition and offset the message was read from.
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// The consumer group that gave up on it.
    public var group: String

    public init(reason: String, topic: String, partition: Int32, offset: Int64, group: String) {
        self.reason = String(reason.prefix(Self.maximumReasonLength))
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.group = group
    }

    /// The headers as strings, to add to the message's own.
    public var fields: [String: String] {
        [
            Self.reasonKey: reason, Self.topicKey: topic, Self.partitionKey: String(partition),
            Self.offsetKey: String(offset), Self.groupKey: group,
        ]
    }

    /// Reads the headers back from a dead-lettered message's headers; nil when one is missing
    /// or not a number where a number belongs.
    public init?(fields: [String: String]) {
        guard let reason = fields[Self.reasonKey], let topic = fields[Self.topicKey],
            let partition = fields[Self.partitionKey].flatMap(Int32.init), let offset = fields[Self.offsetKey].flatMap(Int64.init),
            let group = fields[Self.groupKey]
        else { return nil }
        self.init(reason: reason, topic: topic, partition: partition, offset: offset, group: group)
    }
}
