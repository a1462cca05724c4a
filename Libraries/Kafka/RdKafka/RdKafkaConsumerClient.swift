import CRdKafka
import Foundation
import Synchronization

/// librdkafka's consumer handle and every C call `KafkaConsumer` makes, in Swift terms: the
/// consumer itself holds no C types.
///
/// Thread use: `poll`, the rebalance calls and `close` run on the consumer's poll thread;
/// `storeOffsets` and `commit` may run on any thread, and take `alive` so they never touch a
/// destroyed handle.
final class RdKafkaConsumerClient: @unchecked Sendable {
    /// A rebalance librdkafka asks the consumer to serve, inside `poll` or `close`.
    enum Rebalance {
        case assign([KafkaTopicPartition])
        case revoke([KafkaTopicPartition])
        /// Anything else (librdkafka's error name): the consumer drops its assignment.
        case failed(String)
    }

    /// What one poll returned.
    enum Polled {
        case message(KafkaConsumerMessage)
        /// An error in place of a message: its name and librdkafka's text.
        case error(name: String, reason: String)
        /// The end of a partition was reached (not an error).
        case partitionEnd
    }

    private let handle: OpaquePointer
    /// True while `handle` may be used; cleared, under the lock, right before it is destroyed.
    private let alive = Mutex(true)

    /// Creates the consumer from `properties` with `context` installed and subscribes to `topics`.
    /// Rebalances reach whatever `onRebalance` routed the context to, on the poll thread.
    init(properties: [(String, String)], context: RdKafkaCallbackContext, topics: [String]) throws(KafkaError) {
        let config = try RdKafkaConfig(properties)
        context.install(on: config.pointer)
        rd_kafka_conf_set_rebalance_cb(config.pointer) { handle, error, partitions, _ in
            RdKafkaCallbackContext.from(handle)?.rebalance?(error, partitions)
        }
        let pointer = try makeRdKafkaHandle(type: RD_KAFKA_CONSUMER, config: config)
        rd_kafka_poll_set_consumer(pointer)
        let subscription = topics.map { KafkaTopicPartitionOffset(topic: $0, partition: .unassigned, offset: .invalid) }
        let subscribeError = TopicPartitionList.with(subscription) { list in rd_kafka_subscribe(pointer, list) }
        guard subscribeError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            destroyRdKafkaHandle(pointer)
            throw KafkaError(.subscription, subscribeError, "subscribing to \(topics.joined(separator: ","))")
        }
        self.handle = pointer
    }

    /// Routes librdkafka's rebalance callback to `serve`, as a `Rebalance`.
    static func onRebalance(_ context: RdKafkaCallbackContext, _ serve: @escaping (Rebalance) -> Void) {
        context.rebalance = { error, list in
            let partitions = TopicPartitionList.read(list).map(\.value.topicPartition)
            switch error {
            case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS: serve(.assign(partitions))
            case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS: serve(.revoke(partitions))
            default: serve(.failed(errorName(error)))
            }
        }
    }

    // MARK: Poll thread

    /// One message, error or partition end, waiting at most `timeout` milliseconds; nil when
    /// nothing came.
    func poll(timeout milliseconds: Int32) -> Polled? {
        guard let message = rd_kafka_consumer_poll(handle, milliseconds) else { return nil }
        defer { rd_kafka_message_destroy(message) }
        let error = message.pointee.err
        if error == RD_KAFKA_RESP_ERR__PARTITION_EOF { return .partitionEnd }
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            return .error(name: errorName(error), reason: String(cString: rd_kafka_message_errstr(message)))
        }
        return .message(Self.convert(message))
    }

    private static func convert(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaConsumerMessage {
        let raw = message.pointee
        func bytes(_ pointer: UnsafeMutableRawPointer?, _ count: Int) -> [UInt8]? {
            guard let pointer else { return nil }
            return Array(UnsafeRawBufferPointer(start: pointer, count: count))
        }
        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer? = nil
        if rd_kafka_message_headers(message, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
            var index = 0
            var name: UnsafePointer<CChar>? = nil
            var value: UnsafeRawPointer? = nil
            var size = 0
            while rd_kafka_header_get_all(headerList, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                let headerValue = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
                headers.append(KafkaHeader(key: name.map { String(cString: $0) } ?? "", value: headerValue))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let milliseconds = rd_kafka_message_timestamp(message, &timestampType)
        return KafkaConsumerMessage(
            topic: raw.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "",
            partition: KafkaPartition(raw.partition),
            offset: KafkaOffset(raw.offset),
            key: bytes(raw.key, raw.key_len),
            value: bytes(raw.payload, raw.len),
            headers: headers,
            timestamp: milliseconds >= 0 ? Date(timeIntervalSince1970: Double(milliseconds) / 1000) : nil
        )
    }

    /// Whether the group uses the cooperative protocol (incremental assign and unassign).
    var isCooperative: Bool { String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE" }

    /// Takes `partitions` (inside an assign rebalance); returns librdkafka's error text, if any.
    func assign(_ partitions: [KafkaTopicPartition]) -> String? {
        let entries = partitions.map { KafkaTopicPartitionOffset(topicPartition: $0, offset: .invalid) }
        return TopicPartitionList.with(entries) { list -> String? in
            if isCooperative { return Self.describe(rd_kafka_incremental_assign(handle, list)) }
            let error = rd_kafka_assign(handle, list)
            return error == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : errorName(error)
        }
    }

    /// Releases `partitions` (inside a revoke rebalance); returns librdkafka's error text, if any.
    func unassign(_ partitions: [KafkaTopicPartition]) -> String? {
        guard isCooperative else { return unassignAll() }
        let entries = partitions.map { KafkaTopicPartitionOffset(topicPartition: $0, offset: .invalid) }
        return TopicPartitionList.with(entries) { list in Self.describe(rd_kafka_incremental_unassign(handle, list)) }
    }

    /// Releases every partition.
    func unassignAll() -> String? {
        let error = rd_kafka_assign(handle, nil)
        return error == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : errorName(error)
    }

    private static func describe(_ error: OpaquePointer?) -> String? {
        guard let error else { return nil }
        defer { rd_kafka_error_destroy(error) }
        return String(cString: rd_kafka_error_string(error))
    }

    /// Leaves the group (serving the final revoke); returns the error name when it reported one.
    func close() -> String? {
        let error = rd_kafka_consumer_close(handle)
        return error == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : errorName(error)
    }

    /// Destroys the handle; calls after this fail with `.shutdown`.
    func destroy() {
        alive.withLock { alive in
            guard alive else { return }
            alive = false
            destroyRdKafkaHandle(handle)
        }
    }

    // MARK: Any thread

    /// Stores next-to-read offsets; throws `.offsets` naming the partitions whose offsets were not stored.
    func storeOffsets(_ offsets: [KafkaTopicPartitionOffset]) throws(KafkaError) {
        let failures: [TopicPartitionList.Element] = try alive.withLock { alive throws(KafkaError) in
            guard alive else { throw KafkaError(.shutdown, "the consumer is closed") }
            return TopicPartitionList.with(offsets) { list in
                let error = rd_kafka_offsets_store(handle, list)
                let elements = TopicPartitionList.read(list)
                if error != RD_KAFKA_RESP_ERR_NO_ERROR, elements.allSatisfy({ $0.error == RD_KAFKA_RESP_ERR_NO_ERROR }) {
                    return offsets.map { .init(value: $0, error: error) }
                }
                return elements.filter { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }
            }
        }
        guard let first = failures.first else { return }
        let names = failures.map { "\($0.value.topicPartition)" }.joined(separator: ", ")
        throw KafkaError(.offsets, first.error, "storing offsets for \(names)")
    }

    /// Commits the stored offsets and waits for the broker (blocking: call it off the
    /// cooperative pool). Nothing stored is not an error.
    func commit() throws(KafkaError) {
        try alive.withLock { alive throws(KafkaError) in
            guard alive else { throw KafkaError(.shutdown, "the consumer is closed") }
            let error = rd_kafka_commit(handle, nil, 0)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR || error == RD_KAFKA_RESP_ERR__NO_OFFSET else {
                throw KafkaError(.offsets, error, "committing offsets")
            }
        }
    }

    /// Commits stored offsets on the poll thread (before revoked partitions are released);
    /// returns the error name when it failed.
    func commitBeforeRevoke() -> String? {
        let error = rd_kafka_commit(handle, nil, 0)
        return error == RD_KAFKA_RESP_ERR_NO_ERROR || error == RD_KAFKA_RESP_ERR__NO_OFFSET ? nil : errorName(error)
    }
}
