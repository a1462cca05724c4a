import Contracts
import Foundation
import Kafka
import Logging
import ServiceLifecycle

/// The Kafka loop that feeds an `InboxTransaction`: reads batches of the group's partitions,
/// applies each through the inbox, and stores the batch's offsets only after the inbox
/// transaction committed. Effects are exactly once although delivery is at least once.
///
/// On graceful shutdown the consumer finishes the batch in hand, stores its offsets and leaves
/// the group.
public final class InboxConsumer: Service, Sendable {
    private let configuration: KafkaConsumerConfiguration
    /// The inbox the batches go through.
    public let inbox: InboxTransaction
    private let logger: Logger
    private let consumerBox = ConsumerBox()

    public init(configuration: KafkaConsumerConfiguration, inbox: InboxTransaction, logger: Logger) {
        self.configuration = configuration
        self.inbox = inbox
        self.logger = logger
    }

    /// The partitions currently owned; empty before the group assigned any.
    public var assignment: Set<KafkaTopicPartition> { consumerBox.consumer?.assignment ?? [] }

    public func run() async throws {
        try await KafkaConsumer.withConsumer(configuration: configuration, logger: logger) { consumer in
            consumerBox.consumer = consumer
            try await withGracefulShutdownHandler {
                for await batch in consumer.batches {
                    try await self.inbox.apply(batch.messages)
                    try consumer.store(batch)
                }
            } onGracefulShutdown: {
                Task { await consumer.close() }
            }
        }
    }

    /// The event id the inbox deduplicates `message` on (see `InboxMetadata.init(of:)`).
    public static func eventID(of message: KafkaConsumerMessage) -> String {
        InboxMetadata(of: message).eventID
    }
}

/// Lets readiness checks see the consumer once `run()` created it.
private final class ConsumerBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: KafkaConsumer?
    var consumer: KafkaConsumer? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
