import CRdKafka

/// Every failure the Kafka library reports. It always names what failed and, when librdkafka
/// gave one, the librdkafka error code and its symbolic name.
public struct KafkaError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The family of failure; callers branch on this, not on the message text.
    public enum Kind: String, Sendable, Equatable {
        /// A configuration key or value was refused by librdkafka or by this library.
        case configuration
        /// librdkafka refused to create a client.
        case clientCreation
        /// A message could not be enqueued or was not delivered.
        case delivery
        /// The client is shutting down or closed; the operation was not performed.
        case shutdown
        /// An operation did not finish within its timeout.
        case timeout
        /// An admin request failed (create topics, describe groups, offsets...).
        case admin
        /// An offset change was refused because the consumer group still has active members.
        case groupActive
        /// Storing or committing offsets failed.
        case offsets
        /// Subscribing or assigning partitions failed.
        case subscription
        /// A caller passed an argument that cannot be used.
        case invalidArgument
    }

    public let kind: Kind
    /// The librdkafka error code (`rd_kafka_resp_err_t`), when there is one.
    public let code: Int32?
    /// A human-readable explanation, naming the operation that failed.
    public let message: String

    public init(_ kind: Kind, code: Int32? = nil, _ message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    init(_ kind: Kind, _ err: rd_kafka_resp_err_t, _ context: String) {
        self.init(kind, code: err.rawValue, "\(context): \(String(cString: rd_kafka_err2str(err)))")
    }

    /// The symbolic librdkafka name of `code`, e.g. `_MSG_TIMED_OUT` or `UNKNOWN_TOPIC_OR_PART`.
    public var codeName: String? {
        code.map { errorName(rd_kafka_resp_err_t(rawValue: $0)) }
    }

    public var description: String {
        if let codeName { return "Kafka \(kind.rawValue) error [\(codeName)]: \(message)" }
        return "Kafka \(kind.rawValue) error: \(message)"
    }
}

/// librdkafka's symbolic name for an error code, e.g. `_TIMED_OUT`.
func errorName(_ code: rd_kafka_resp_err_t) -> String {
    String(cString: rd_kafka_err2name(code))
}
