import CRdKafka

/// Conversions between Swift values and `rd_kafka_topic_partition_list_t`.
/// Every list created here is destroyed by the same function that created it.
enum TopicPartitionList {
    /// Calls `body` with a C list holding `entries`; the list is destroyed afterwards.
    static func with<R, E: Error>(
        _ entries: [KafkaTopicPartitionOffset],
        _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws(E) -> R
    ) throws(E) -> R {
        let list = make(entries)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return try body(list)
    }

    static func make(_ entries: [KafkaTopicPartitionOffset]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(max(entries.count, 1)))!
        for entry in entries {
            let element = rd_kafka_topic_partition_list_add(list, entry.topic, entry.partition.rawValue)!
            element.pointee.offset = entry.offset.rawValue
        }
        return list
    }

    /// One element as read back from librdkafka, with its per-partition error code.
    struct Element {
        var value: KafkaTopicPartitionOffset
        var error: rd_kafka_resp_err_t
    }

    static func read(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>?) -> [Element] {
        guard let list, list.pointee.cnt > 0, let elements = list.pointee.elems else { return [] }
        return (0..<Int(list.pointee.cnt)).map { index in
            let element = elements[index]
            return Element(
                value: KafkaTopicPartitionOffset(
                    topic: String(cString: element.topic),
                    partition: KafkaPartition(element.partition),
                    offset: KafkaOffset(element.offset)
                ),
                error: element.err
            )
        }
    }

    static func read(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> [Element] {
        read(UnsafePointer(list))
    }
}
