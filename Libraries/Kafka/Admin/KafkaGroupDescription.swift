/// The state a consumer group is in, as the broker reports it.
public enum KafkaGroupState: String, Sendable, Equatable {
    case unknown
    case preparingRebalance = "preparing-rebalance"
    case completingRebalance = "completing-rebalance"
    case stable
    case dead
    case empty

    /// True when no member can be consuming: offsets may be changed safely.
    public var isInactive: Bool { self == .empty || self == .dead }
}

/// A group as listed by the broker.
public struct KafkaGroupListing: Sendable, Equatable {
    public var groupID: String
    public var state: KafkaGroupState
}

/// One member of a consumer group and the partitions it owns.
public struct KafkaGroupMember: Sendable, Equatable {
    public var memberID: String
    public var clientID: String
    public var host: String
    public var assignment: [KafkaTopicPartition]
}

/// A consumer group's state and members.
public struct KafkaGroupDescription: Sendable, Equatable {
    public var groupID: String
    public var state: KafkaGroupState
    public var members: [KafkaGroupMember]

    /// True when members are connected: replaying offsets must be refused.
    public var hasActiveMembers: Bool { !members.isEmpty || !state.isInactive }
}

/// A topic and how many partitions it has.
public struct KafkaTopicMetadata: Sendable, Equatable {
    public var name: String
    public var partitions: [KafkaPartition]
}

/// The first and next offsets of a partition.
public struct KafkaWatermarks: Sendable, Equatable {
    /// The oldest retained offset.
    public var low: KafkaOffset
    /// The offset the next message will get.
    public var high: KafkaOffset
}

/// How far a group is behind on one partition.
public struct KafkaPartitionLag: Sendable, Equatable {
    public var topicPartition: KafkaTopicPartition
    /// The group's committed offset, or `.invalid` when it never committed here.
    public var committed: KafkaOffset
    public var watermarks: KafkaWatermarks

    /// Messages not yet consumed. With no commit, everything retained counts.
    public var lag: Int64 {
        let start = committed.isConcrete ? committed.rawValue : watermarks.low.rawValue
        return max(0, watermarks.high.rawValue - start)
    }
}

/// What `createTopics` did for one topic.
public enum KafkaTopicCreation: String, Sendable, Equatable {
    case created
    case alreadyExisted = "already-existed"
}

/// A topic to create.
public struct KafkaTopicSpecification: Sendable, Equatable {
    public var name: String
    public var partitions: Int32
    public var replicationFactor: Int32

    public init(name: String, partitions: Int32, replicationFactor: Int32 = 1) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
    }
}
