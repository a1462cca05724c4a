/// Settings shared by every client. Typed fields cover what Tally relies on;
/// `additional` passes any other librdkafka key through unchanged (it wins over typed fields).
public struct KafkaClientConfiguration: Sendable {
    /// `host:port` pairs of one or more brokers.
    public var bootstrapServers: [String]
    /// Sent to the broker and used as the metrics label.
    public var clientID: String
    /// How often librdkafka emits statistics into swift-metrics; nil disables statistics.
    public var statisticsInterval: Duration?
    /// Raw librdkafka configuration keys, applied last.
    public var additional: [String: String]

    public init(
        bootstrapServers: [String],
        clientID: String = "tally",
        statisticsInterval: Duration? = .seconds(15),
        additional: [String: String] = [:]
    ) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
        self.statisticsInterval = statisticsInterval
        self.additional = additional
    }

    var librdkafkaProperties: [(String, String)] {
        var properties: [(String, String)] = [
            ("bootstrap.servers", bootstrapServers.joined(separator: ",")),
            ("client.id", clientID),
        ]
        if let statisticsInterval {
            properties.append(("statistics.interval.ms", String(statisticsInterval.milliseconds)))
        }
        return properties
    }
}

/// Producer settings. The producer is always idempotent: `enable.idempotence=true`, so retries
/// never duplicate or reorder messages within a partition.
public struct KafkaProducerConfiguration: Sendable {
    public var client: KafkaClientConfiguration
    /// The most messages that may wait for a delivery report at once. `send` suspends when
    /// the limit is reached (back-pressure) instead of growing memory without bound.
    public var maxInFlightMessages: Int
    /// How long librdkafka gathers messages into a batch before sending.
    public var linger: Duration
    /// How long librdkafka keeps retrying one message before reporting it as failed.
    public var deliveryTimeout: Duration

    public init(
        client: KafkaClientConfiguration,
        maxInFlightMessages: Int = 20_000,
        linger: Duration = .milliseconds(2),
        deliveryTimeout: Duration = .seconds(120)
    ) {
        self.client = client
        self.maxInFlightMessages = maxInFlightMessages
        self.linger = linger
        self.deliveryTimeout = deliveryTimeout
    }

    var librdkafkaProperties: [(String, String)] {
        var properties = client.librdkafkaProperties
        properties += [
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("linger.ms", String(linger.milliseconds)),
            ("message.timeout.ms", String(deliveryTimeout.milliseconds)),
            // librdkafka's own queue is kept above our in-flight limit, so our limit is the
            // one that applies back-pressure and librdkafka never answers QUEUE_FULL.
            ("queue.buffering.max.messages", String(max(maxInFlightMessages * 2, 1000))),
        ]
        properties += client.additional.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return properties
    }
}

/// Where a consumer group with no committed offset starts reading.
public enum KafkaAutoOffsetReset: String, Sendable {
    case earliest
    case latest
}

/// Consumer settings. Offsets are stored by the application only after its own effects are
/// committed (`enable.auto.offset.store=false`); librdkafka then commits stored offsets in the
/// background, on revoke and on close. Assignment is `cooperative-sticky`.
public struct KafkaConsumerConfiguration: Sendable {
    public var client: KafkaClientConfiguration
    public var groupID: String
    public var topics: [String]
    /// Where a partition without a committed offset starts.
    public var autoOffsetReset: KafkaAutoOffsetReset
    /// The most messages handed to the application in one batch.
    public var maxBatchSize: Int
    /// How many batches may wait, already fetched, for the application (back-pressure beyond).
    public var bufferedBatches: Int
    /// The group session timeout; short values make joins and failover fast.
    public var sessionTimeout: Duration
    public var heartbeatInterval: Duration
    /// How often stored offsets are committed in the background.
    public var autoCommitInterval: Duration
    /// The longest the application may hold one batch before librdkafka leaves the group.
    public var maxPollInterval: Duration
    /// How long a rebalance waits for the batch in the application's hands to settle.
    public var revokeTimeout: Duration
    /// The longest the broker may hold a fetch that has nothing new (`fetch.wait.max.ms`). The
    /// local broker holds a fetch for a good part of it even when data arrives, so this bounds
    /// the hop's latency: about 200 ms at librdkafka's 500 ms default, about 6 ms at 10 ms
    /// (measured on the local stack). Lower costs idle fetches: at 20 ms for every service the
    /// idle broker used 40 % of a core, so only latency-critical consumers should lower it.
    public var fetchMaxWait: Duration
    /// How much data a fetch waits for (`fetch.min.bytes`), up to `fetchMaxWait`. 1 (librdkafka's
    /// default) answers as soon as anything is there: lowest latency, but under load many small
    /// fetches. A larger value lets a consumer that is not latency-critical take fewer, larger
    /// batches, which costs the broker and the consumer less per event.
    public var fetchMinBytes: Int

    public init(
        client: KafkaClientConfiguration,
        groupID: String,
        topics: [String],
        autoOffsetReset: KafkaAutoOffsetReset = .earliest,
        maxBatchSize: Int = 500,
        bufferedBatches: Int = 2,
        sessionTimeout: Duration = .seconds(10),
        heartbeatInterval: Duration = .seconds(1),
        autoCommitInterval: Duration = .seconds(1),
        maxPollInterval: Duration = .seconds(300),
        revokeTimeout: Duration = .seconds(30),
        fetchMaxWait: Duration = .milliseconds(500),
        fetchMinBytes: Int = 1
    ) {
        self.client = client
        self.groupID = groupID
        self.topics = topics
        self.autoOffsetReset = autoOffsetReset
        self.maxBatchSize = maxBatchSize
        self.bufferedBatches = bufferedBatches
        self.sessionTimeout = sessionTimeout
        self.heartbeatInterval = heartbeatInterval
        self.autoCommitInterval = autoCommitInterval
        self.maxPollInterval = maxPollInterval
        self.revokeTimeout = revokeTimeout
        self.fetchMaxWait = fetchMaxWait
        self.fetchMinBytes = fetchMinBytes
    }

    var librdkafkaProperties: [(String, String)] {
        var properties = client.librdkafkaProperties
        properties += [
            ("group.id", groupID),
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("enable.auto.offset.store", "false"),
            ("enable.auto.commit", "true"),
            ("auto.commit.interval.ms", String(autoCommitInterval.milliseconds)),
            ("auto.offset.reset", autoOffsetReset.rawValue),
            ("session.timeout.ms", String(sessionTimeout.milliseconds)),
            ("heartbeat.interval.ms", String(heartbeatInterval.milliseconds)),
            ("max.poll.interval.ms", String(maxPollInterval.milliseconds)),
            ("enable.partition.eof", "false"),
            ("fetch.wait.max.ms", String(fetchMaxWait.milliseconds)),
            ("fetch.min.bytes", String(max(1, fetchMinBytes))),
        ]
        properties += client.additional.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return properties
    }
}

extension Duration {
    /// Whole milliseconds, rounded down, for librdkafka's `*.ms` settings.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
