import CRdKafka
import Foundation
import Logging

/// Cluster administration: topics, watermarks, consumer groups, committed offsets and the
/// offset changes that replay is built on.
///
/// Every call runs its blocking librdkafka request off Swift's cooperative pool and fails with a
/// typed `KafkaError` naming the request. `alterGroupOffsets` refuses while the group has active
/// members, so a replay can never race a running consumer.
public final class KafkaAdmin: Sendable {
    private let handle: UnsafeHandle
    private let context: RdKafkaCallbackContext
    private let requestTimeout: Duration
    private let logger: Logger
    private let bootstrapProperties: [(String, String)]
    /// Admits requests while the admin is open; `close` waits for those in flight.
    private let gate = RdKafkaHandleGate(clientDescription: "Kafka admin client")

    public init(configuration: KafkaClientConfiguration, logger: Logger, requestTimeout: Duration = .seconds(10)) throws(KafkaError) {
        var configuration = configuration
        configuration.statisticsInterval = nil
        self.logger = logger
        self.requestTimeout = requestTimeout
        self.bootstrapProperties = [("bootstrap.servers", configuration.bootstrapServers.joined(separator: ",")), ("client.id", configuration.clientID + "-peek")]
        self.context = RdKafkaCallbackContext(logger: logger, clientID: configuration.clientID, clientType: "admin")
        let config = try RdKafkaConfig(configuration.librdkafkaProperties + configuration.additional.map { ($0.key, $0.value) })
        context.install(on: config.pointer)
        self.handle = UnsafeHandle(pointer: try makeRdKafkaHandle(type: RD_KAFKA_PRODUCER, config: config))
    }

    /// Releases the client once the requests in flight have finished; a second call does
    /// nothing. Requests made afterwards fail with `KafkaError.Kind.shutdown`, so a readiness
    /// probe racing a service's shutdown gets an error, never a destroyed handle.
    public func close() async {
        guard await gate.close() else { return }
        let handle = self.handle
        await BlockingCalls.run { destroyRdKafkaHandle(handle.pointer) }
    }

    /// Runs `body` with the client's handle off Swift's cooperative pool, unless the admin is
    /// closed; `close` waits for it to return before destroying the handle.
    private func withHandle<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws(KafkaError) -> T) async throws(KafkaError) -> T {
        try await BlockingCalls.run { [handle, gate] () throws(KafkaError) -> T in
            try gate.enter { () throws(KafkaError) -> T in try body(handle.pointer) }
        }
    }

    private var timeoutMilliseconds: Int32 { Int32(requestTimeout.milliseconds) }

    // MARK: Topics

    /// Creates the topics that do not exist yet. Existing topics are left as they are and
    /// reported as `.alreadyExisted`, so calling this on every start-up is safe.
    public func createTopics(_ topics: [KafkaTopicSpecification]) async throws(KafkaError) -> [String: KafkaTopicCreation] {
        guard !topics.isEmpty else { return [:] }
        return try await adminRequest("create topics") { handle, options, queue throws(KafkaError) in
            var newTopics: [OpaquePointer?] = []
            defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
            for topic in topics {
                var errorBuffer = [CChar](repeating: 0, count: 256)
                guard let newTopic = rd_kafka_NewTopic_new(topic.name, topic.partitions, topic.replicationFactor, &errorBuffer, errorBuffer.count) else {
                    throw KafkaError(.invalidArgument, "topic \(topic.name): \(String(errorBuffer: errorBuffer))")
                }
                newTopics.append(newTopic)
            }
            rd_kafka_CreateTopics(handle, &newTopics, newTopics.count, options, queue)
        } read: { event throws(KafkaError) in
            var count = 0
            guard let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count) else { return [:] }
            var outcome: [String: KafkaTopicCreation] = [:]
            for index in 0..<count {
                let result = results[index]
                let name = String(cString: rd_kafka_topic_result_name(result))
                switch rd_kafka_topic_result_error(result) {
                case RD_KAFKA_RESP_ERR_NO_ERROR: outcome[name] = .created
                case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS: outcome[name] = .alreadyExisted
                case let error:
                    let detail = rd_kafka_topic_result_error_string(result).map { String(cString: $0) } ?? ""
                    throw KafkaError(.admin, code: error.rawValue, "creating topic \(name): \(detail)")
                }
            }
            return outcome
        }
    }

    /// All topics the cluster knows, with their partitions, sorted by name. Internal topics
    /// (starting with `__`) are left out.
    public func topics() async throws(KafkaError) -> [KafkaTopicMetadata] {
        try await withHandle { [timeoutMilliseconds] handle throws(KafkaError) in
            var metadata: UnsafePointer<rd_kafka_metadata>? = nil
            let error = rd_kafka_metadata(handle, 1, nil, &metadata, timeoutMilliseconds)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                throw KafkaError(.admin, error, "fetching metadata")
            }
            defer { rd_kafka_metadata_destroy(metadata) }
            var topics: [KafkaTopicMetadata] = []
            for index in 0..<Int(metadata.pointee.topic_cnt) {
                let topic = metadata.pointee.topics[index]
                let name = String(cString: topic.topic)
                guard !name.hasPrefix("__"), topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
                let partitions = (0..<Int(topic.partition_cnt)).map { KafkaPartition(topic.partitions[$0].id) }.sorted()
                topics.append(KafkaTopicMetadata(name: name, partitions: partitions))
            }
            return topics.sorted { $0.name < $1.name }
        }
    }

    /// The low and high watermarks of a partition.
    public func watermarks(_ partition: KafkaTopicPartition) async throws(KafkaError) -> KafkaWatermarks {
        guard let marks = try await watermarks([partition])[partition] else {
            throw KafkaError(.admin, "no watermarks for \(partition)")
        }
        return marks
    }

    /// The low and high watermarks of many partitions.
    ///
    /// The high watermark is the larger of the ListOffsets answer and the one a fetch at that
    /// position reports: some brokers (Tansu 0.6) answer ListOffsets with the base offset of the
    /// last record batch plus one, which would understate lag and replay sizes.
    public func watermarks(_ partitions: [KafkaTopicPartition]) async throws(KafkaError) -> [KafkaTopicPartition: KafkaWatermarks] {
        guard !partitions.isEmpty else { return [:] }
        let properties = peekProperties
        return try await withHandle { [timeoutMilliseconds, gate] handle throws(KafkaError) in
            var result: [KafkaTopicPartition: KafkaWatermarks] = [:]
            for partition in partitions {
                // One request per partition, each up to the timeout: stop early when closing.
                guard !gate.isClosing else { throw KafkaError(.shutdown, "the Kafka admin client is closing") }
                var low: Int64 = 0
                var high: Int64 = 0
                let error = rd_kafka_query_watermark_offsets(handle, partition.topic, partition.partition.rawValue, &low, &high, timeoutMilliseconds)
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError(.admin, error, "querying watermarks of \(partition)")
                }
                result[partition] = KafkaWatermarks(low: KafkaOffset(low), high: KafkaOffset(high))
            }
            // Fetch from each reported high watermark; the fetch answer carries the true one.
            try Self.withPeekConsumer(properties) { consumer throws(KafkaError) in
                let positions = partitions.map { KafkaTopicPartitionOffset(topicPartition: $0, offset: result[$0]!.high) }
                let assigned = TopicPartitionList.with(positions) { list in rd_kafka_assign(consumer, list) }
                guard assigned == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(.admin, assigned, "checking high watermarks") }
                var unresolved = Set(partitions)
                let deadline = ContinuousClock.now + .milliseconds(Int64(timeoutMilliseconds))
                while !unresolved.isEmpty, ContinuousClock.now < deadline {
                    if let message = rd_kafka_consumer_poll(consumer, 50) { rd_kafka_message_destroy(message) }
                    for partition in unresolved {
                        var low: Int64 = -1
                        var high: Int64 = -1
                        _ = rd_kafka_get_watermark_offsets(consumer, partition.topic, partition.partition.rawValue, &low, &high)
                        guard high >= 0 else { continue }
                        unresolved.remove(partition)
                        if let known = result[partition], high > known.high.rawValue {
                            result[partition] = KafkaWatermarks(low: known.low, high: KafkaOffset(high))
                        }
                    }
                }
            }
            return result
        }
    }

    /// Settings for short-lived, group-less consumers that only look at partitions.
    private var peekProperties: [(String, String)] {
        bootstrapProperties + [("group.id", "tally-admin-peek"), ("enable.auto.commit", "false"), ("fetch.wait.max.ms", "50")]
    }

    private static func withPeekConsumer<R>(_ properties: [(String, String)], _ body: (OpaquePointer) throws(KafkaError) -> R) throws(KafkaError) -> R {
        let consumer = try makeRdKafkaHandle(type: RD_KAFKA_CONSUMER, config: try RdKafkaConfig(properties))
        defer {
            _ = rd_kafka_consumer_close(consumer)
            destroyRdKafkaHandle(consumer)
        }
        return try body(consumer)
    }

    /// For each partition of `topics`, the earliest offset whose timestamp is at or after `time`,
    /// or the high watermark when no such message exists yet.
    public func offsets(at time: Date, topics: [String]) async throws(KafkaError) -> [KafkaTopicPartitionOffset] {
        let all = try await self.topics()
        let milliseconds = Int64((time.timeIntervalSince1970 * 1000).rounded(.down))
        var query: [KafkaTopicPartitionOffset] = []
        for topic in topics {
            guard let metadata = all.first(where: { $0.name == topic }) else {
                throw KafkaError(.admin, "unknown topic \(topic)")
            }
            query += metadata.partitions.map { KafkaTopicPartitionOffset(topic: topic, partition: $0, offset: KafkaOffset(milliseconds)) }
        }
        let found: [KafkaTopicPartitionOffset] = try await withHandle { [timeoutMilliseconds, query] handle throws(KafkaError) in
            try TopicPartitionList.with(query) { list throws(KafkaError) in
                let error = rd_kafka_offsets_for_times(handle, list, timeoutMilliseconds)
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(.admin, error, "looking up offsets for times") }
                return try TopicPartitionList.read(list).map { element throws(KafkaError) in
                    guard element.error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                        throw KafkaError(.admin, element.error, "offset for time on \(element.value.topicPartition)")
                    }
                    return element.value
                }
            }
        }
        let allMarks = try await watermarks(found.map(\.topicPartition))
        var resolved: [KafkaTopicPartitionOffset] = []
        for entry in found {
            guard let marks = allMarks[entry.topicPartition] else { continue }
            // Some brokers answer the log start instead of "none" when every message is older
            // than `time`; the message at the answered offset tells which case it is.
            if entry.offset.isConcrete, entry.offset < marks.high,
                let stamp = try await timestamp(of: entry), stamp >= milliseconds
            {
                resolved.append(entry)
            } else {
                resolved.append(KafkaTopicPartitionOffset(topicPartition: entry.topicPartition, offset: marks.high))
            }
        }
        return resolved
    }

    /// The timestamp (milliseconds since 1970) of the message at `position`, read with a
    /// short-lived group-less consumer; nil when no message could be read.
    private func timestamp(of position: KafkaTopicPartitionOffset) async throws(KafkaError) -> Int64? {
        let properties = peekProperties
        return try await BlockingCalls.run { [requestTimeout] () throws(KafkaError) -> Int64? in
            try Self.withPeekConsumer(properties) { consumer throws(KafkaError) -> Int64? in
                let assigned = TopicPartitionList.with([position]) { list in rd_kafka_assign(consumer, list) }
                guard assigned == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(.admin, assigned, "peeking at \(position)") }
                let deadline = ContinuousClock.now + requestTimeout
                while ContinuousClock.now < deadline {
                    guard let message = rd_kafka_consumer_poll(consumer, 200) else { continue }
                    defer { rd_kafka_message_destroy(message) }
                    guard message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
                    var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
                    let stamp = rd_kafka_message_timestamp(message, &type)
                    return stamp >= 0 ? stamp : nil
                }
                return nil
            }
        }
    }

    // MARK: Consumer groups

    /// Every consumer group the cluster knows, sorted by id.
    public func listGroups() async throws(KafkaError) -> [KafkaGroupListing] {
        try await adminRequest("list consumer groups") { handle, options, queue throws(KafkaError) in
            rd_kafka_ListConsumerGroups(handle, options, queue)
        } read: { event throws(KafkaError) in
            let result = rd_kafka_event_ListConsumerGroups_result(event)
            var count = 0
            guard let listings = rd_kafka_ListConsumerGroups_result_valid(result, &count) else { return [] }
            return (0..<count).map { index in
                KafkaGroupListing(
                    groupID: String(cString: rd_kafka_ConsumerGroupListing_group_id(listings[index])),
                    state: KafkaGroupState(rd_kafka_ConsumerGroupListing_state(listings[index]))
                )
            }.sorted { $0.groupID < $1.groupID }
        }
    }

    /// A group's state and members. An unknown group is reported as `.dead` with no members.
    public func describeGroup(_ groupID: String) async throws(KafkaError) -> KafkaGroupDescription {
        try await adminRequest("describe consumer group \(groupID)") { handle, options, queue throws(KafkaError) in
            groupID.withCString { name in
                var names: [UnsafePointer<CChar>?] = [name]
                rd_kafka_DescribeConsumerGroups(handle, &names, 1, options, queue)
            }
        } read: { event throws(KafkaError) in
            let result = rd_kafka_event_DescribeConsumerGroups_result(event)
            var count = 0
            guard let groups = rd_kafka_DescribeConsumerGroups_result_groups(result, &count), count > 0, let group = groups[0] else {
                throw KafkaError(.admin, "describe consumer group \(groupID): empty answer")
            }
            if let error = rd_kafka_ConsumerGroupDescription_error(group) {
                let code = rd_kafka_error_code(error)
                if code == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND {
                    return KafkaGroupDescription(groupID: groupID, state: .dead, members: [])
                }
                throw KafkaError(.admin, code: code.rawValue, "describe consumer group \(groupID): \(String(cString: rd_kafka_error_string(error)))")
            }
            let members = (0..<rd_kafka_ConsumerGroupDescription_member_count(group)).compactMap { index -> KafkaGroupMember? in
                guard let member = rd_kafka_ConsumerGroupDescription_member(group, index) else { return nil }
                let assignment = rd_kafka_MemberDescription_assignment(member).flatMap { rd_kafka_MemberAssignment_partitions($0) }
                return KafkaGroupMember(
                    memberID: String(cString: rd_kafka_MemberDescription_consumer_id(member)),
                    clientID: String(cString: rd_kafka_MemberDescription_client_id(member)),
                    host: String(cString: rd_kafka_MemberDescription_host(member)),
                    assignment: TopicPartitionList.read(assignment).map(\.value.topicPartition).sorted()
                )
            }
            return KafkaGroupDescription(groupID: groupID, state: KafkaGroupState(rd_kafka_ConsumerGroupDescription_state(group)), members: members)
        }
    }

    /// The offsets a group has committed, for every partition it ever committed on.
    public func committedOffsets(group groupID: String) async throws(KafkaError) -> [KafkaTopicPartitionOffset] {
        try await adminRequest("list offsets of group \(groupID)") { handle, options, queue throws(KafkaError) in
            var request: OpaquePointer? = rd_kafka_ListConsumerGroupOffsets_new(groupID, nil)
            defer { rd_kafka_ListConsumerGroupOffsets_destroy(request) }
            rd_kafka_ListConsumerGroupOffsets(handle, &request, 1, options, queue)
        } read: { event throws(KafkaError) in
            var count = 0
            let groups = rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(event), &count)
            guard let groups, count > 0 else { return [] }
            return try Self.partitions(of: groups[0], context: "offsets of group \(groupID)")
                .filter { $0.offset.isConcrete }
                .sorted { $0.topicPartition < $1.topicPartition }
        }
    }

    /// For every partition of the topics a group has committed on: committed offset, watermarks
    /// and lag. Pass `topics` to also include partitions the group never committed on.
    public func lag(group groupID: String, topics: [String] = []) async throws(KafkaError) -> [KafkaPartitionLag] {
        let committed = try await committedOffsets(group: groupID)
        var partitions = Set(committed.map(\.topicPartition))
        if !topics.isEmpty {
            for metadata in try await self.topics() where topics.contains(metadata.name) {
                partitions.formUnion(metadata.partitions.map { KafkaTopicPartition(topic: metadata.name, partition: $0) })
            }
        }
        let marks = try await watermarks(Array(partitions))
        return partitions.sorted().compactMap { partition in
            guard let watermarks = marks[partition] else { return nil }
            let offset = committed.first { $0.topicPartition == partition }?.offset ?? .invalid
            return KafkaPartitionLag(topicPartition: partition, committed: offset, watermarks: watermarks)
        }
    }

    /// Sets a group's committed offsets: the basis of replay.
    ///
    /// Refuses with `.groupActive` while the group has members, because a running member would
    /// overwrite the new offsets with its own. Throws `.admin` naming each partition the broker
    /// refused.
    public func alterGroupOffsets(group groupID: String, to offsets: [KafkaTopicPartitionOffset]) async throws(KafkaError) {
        let description = try await describeGroup(groupID)
        guard !description.hasActiveMembers else {
            throw KafkaError(
                .groupActive, "group \(groupID) is \(description.state.rawValue) with \(description.members.count) member(s); stop its consumers before changing offsets")
        }
        guard !offsets.isEmpty else { return }
        _ = try await adminRequest("alter offsets of group \(groupID)") { handle, options, queue throws(KafkaError) in
            TopicPartitionList.with(offsets) { list in
                var request: OpaquePointer? = rd_kafka_AlterConsumerGroupOffsets_new(groupID, list)
                defer { rd_kafka_AlterConsumerGroupOffsets_destroy(request) }
                rd_kafka_AlterConsumerGroupOffsets(handle, &request, 1, options, queue)
            }
        } read: { event throws(KafkaError) in
            var count = 0
            let groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(rd_kafka_event_AlterConsumerGroupOffsets_result(event), &count)
            guard let groups, count > 0 else { throw KafkaError(.admin, "alter offsets of group \(groupID): empty answer") }
            return try Self.partitions(of: groups[0], context: "alter offsets of group \(groupID)")
        }
    }

    // MARK: Plumbing

    private static func partitions(of group: OpaquePointer?, context: String) throws(KafkaError) -> [KafkaTopicPartitionOffset] {
        if let error = rd_kafka_group_result_error(group) {
            throw KafkaError(.admin, code: rd_kafka_error_code(error).rawValue, "\(context): \(String(cString: rd_kafka_error_string(error)))")
        }
        let elements = TopicPartitionList.read(rd_kafka_group_result_partitions(group))
        let failed = elements.filter { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }
        if let first = failed.first {
            throw KafkaError(.admin, first.error, "\(context) on \(failed.map { "\($0.value.topicPartition)" }.joined(separator: ", "))")
        }
        return elements.map(\.value)
    }

    /// Runs one admin request: `start` issues it on a private queue, `read` turns the result
    /// event into a value. Top-level request errors and timeouts become `.admin`/`.timeout`.
    private func adminRequest<T: Sendable>(
        _ what: String,
        start: @escaping @Sendable (OpaquePointer, OpaquePointer?, OpaquePointer) throws(KafkaError) -> Void,
        read: @escaping @Sendable (OpaquePointer) throws(KafkaError) -> T
    ) async throws(KafkaError) -> T {
        try await withHandle { [requestTimeout] handle throws(KafkaError) in
            guard let queue = rd_kafka_queue_new(handle) else { throw KafkaError(.admin, "\(what): no queue") }
            defer { rd_kafka_queue_destroy(queue) }
            let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_ANY)
            defer { rd_kafka_AdminOptions_destroy(options) }
            var errorBuffer = [CChar](repeating: 0, count: 256)
            _ = rd_kafka_AdminOptions_set_request_timeout(options, Int32(requestTimeout.milliseconds), &errorBuffer, errorBuffer.count)
            try start(handle, options, queue)
            guard let event = rd_kafka_queue_poll(queue, Int32(requestTimeout.milliseconds + 2000)) else {
                throw KafkaError(.timeout, "\(what) timed out after \(requestTimeout)")
            }
            defer { rd_kafka_event_destroy(event) }
            let error = rd_kafka_event_error(event)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                let detail = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
                throw KafkaError(.admin, code: error.rawValue, "\(what): \(detail)")
            }
            return try read(event)
        }
    }
}

extension KafkaGroupState {
    init(_ state: rd_kafka_consumer_group_state_t) {
        switch state {
        case RD_KAFKA_CONSUMER_GROUP_STATE_PREPARING_REBALANCE: self = .preparingRebalance
        case RD_KAFKA_CONSUMER_GROUP_STATE_COMPLETING_REBALANCE: self = .completingRebalance
        case RD_KAFKA_CONSUMER_GROUP_STATE_STABLE: self = .stable
        case RD_KAFKA_CONSUMER_GROUP_STATE_DEAD: self = .dead
        case RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY: self = .empty
        default: self = .unknown
        }
    }
}
