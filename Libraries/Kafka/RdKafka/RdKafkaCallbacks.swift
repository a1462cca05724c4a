import CRdKafka
import Foundation
import Logging
import Metrics

/// The object librdkafka's C callbacks reach through `rd_kafka_opaque`. Each client created from a
/// configuration it was installed on holds a strong reference to it, released by
/// `destroyRdKafkaHandle` after `rd_kafka_destroy`, so a callback never reaches a freed context
/// (a client whose owner was dropped without closing it keeps its context alive).
final class RdKafkaCallbackContext: @unchecked Sendable {
    let logger: Logger
    let statistics: KafkaStatisticsRecorder
    /// Set once by a consumer before `rd_kafka_new`; invoked on the consumer's poll thread.
    var rebalance: ((rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> Void)?

    init(logger: Logger, clientID: String, clientType: String) {
        self.logger = logger
        self.statistics = KafkaStatisticsRecorder(clientID: clientID, clientType: clientType)
    }

    /// Installs the log and statistics callbacks and the opaque pointer on `conf`, retaining this
    /// context for the client made from `conf` (released by `destroyRdKafkaHandle`; if the client
    /// cannot be created, the reference is leaked, which is harmless).
    func install(on conf: OpaquePointer) {
        rd_kafka_conf_set_opaque(conf, Unmanaged.passRetained(self).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { handle, level, facility, message in
            guard let context = RdKafkaCallbackContext.from(handle) else { return }
            let text = message.map { String(cString: $0) } ?? ""
            let facilityText = facility.map { String(cString: $0) } ?? ""
            context.logger.log(
                level: RdKafkaCallbackContext.logLevel(syslog: level),
                "\(text)",
                metadata: ["kafka.facility": "\(facilityText)"],
                source: "librdkafka"
            )
        }
        rd_kafka_conf_set_stats_cb(conf) { _, json, length, opaque in
            guard let opaque, let json else { return 0 }
            let context = Unmanaged<RdKafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
            context.statistics.record(Data(bytes: json, count: length))
            return 0
        }
        rd_kafka_conf_set_error_cb(conf) { handle, code, reason, _ in
            guard let context = RdKafkaCallbackContext.from(handle) else { return }
            let text = reason.map { String(cString: $0) } ?? ""
            context.logger.warning(
                "librdkafka error",
                metadata: ["kafka.error": "\(errorName(rd_kafka_resp_err_t(rawValue: code)))", "reason": "\(text)"]
            )
        }
    }

    static func from(_ handle: OpaquePointer?) -> RdKafkaCallbackContext? {
        guard let handle, let opaque = rd_kafka_opaque(handle) else { return nil }
        return Unmanaged<RdKafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
    }

    static func logLevel(syslog level: Int32) -> Logger.Level {
        switch level {
        case ...2: .critical
        case 3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
    }
}

/// Turns librdkafka's periodic statistics JSON into swift-metrics gauges.
final class KafkaStatisticsRecorder: Sendable {
    private let dimensions: [(String, String)]

    init(clientID: String, clientType: String) {
        self.dimensions = [("client_id", clientID), ("client_type", clientType)]
    }

    func record(_ json: Data) {
        guard let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { return }
        let gauges: [(String, String)] = [
            ("msg_cnt", "kafka_client_queued_messages"),
            ("msg_size", "kafka_client_queued_bytes"),
            ("replyq", "kafka_client_reply_queue"),
            ("txmsgs", "kafka_client_transmitted_messages"),
            ("rxmsgs", "kafka_client_received_messages"),
        ]
        for (key, label) in gauges {
            if let value = (root[key] as? NSNumber)?.doubleValue {
                Gauge(label: label, dimensions: dimensions).record(value)
            }
        }
        guard let topics = root["topics"] as? [String: Any] else { return }
        for (topic, topicValue) in topics {
            guard let partitions = (topicValue as? [String: Any])?["partitions"] as? [String: Any] else { continue }
            for (partition, partitionValue) in partitions where partition != "-1" {
                guard let stats = partitionValue as? [String: Any],
                    let lag = (stats["consumer_lag"] as? NSNumber)?.int64Value, lag >= 0
                else { continue }
                Gauge(
                    label: "kafka_consumer_lag_messages",
                    dimensions: dimensions + [("topic", topic), ("partition", partition)]
                ).record(Double(lag))
            }
        }
    }
}
