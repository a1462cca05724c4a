import Contracts
import Foundation
import Kafka
import Storage

/// Typed test events built from the golden fixtures in `contracts/fixtures/`, so handler tests
/// start from exactly what producers publish.
public enum TestEvents {
    /// The repository's root folder.
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The golden fixture of `Payload`'s type, decoded.
    public static func fixture<Payload: EventPayload>(_: Payload.Type) throws -> EventEnvelope<Payload> {
        let url = repository.appendingPathComponent("contracts/fixtures/\(Payload.eventType).json")
        return try CanonicalJSON.decode(EventEnvelope<Payload>.self, from: Array(try Data(contentsOf: url)))
    }

    /// The fixture of `Payload`'s type with `change` applied (ids, tenant, payload fields).
    public static func fixture<Payload: EventPayload>(_ type: Payload.Type, _ change: (inout EventEnvelope<Payload>) -> Void) throws -> EventEnvelope<Payload> {
        var event = try fixture(type)
        change(&event)
        return event
    }

    /// `event` as the consumer reads it from Kafka: canonical JSON with the `ce_*` headers the
    /// outbox adds, at `offset` of partition `partition` of its topic.
    public static func message<Payload: EventPayload>(_ event: EventEnvelope<Payload>, offset: Int64, partition: Int32 = 0) throws -> KafkaConsumerMessage {
        let produced = try OutboxMessage(event).kafkaMessage
        return KafkaConsumerMessage(
            topic: produced.topic, partition: .init(partition), offset: .init(offset), key: produced.key, value: produced.value, headers: produced.headers)
    }

    /// `event` as a typed handler receives it.
    public static func inboxEvent<Payload: EventPayload>(_ event: EventEnvelope<Payload>, offset: Int64 = 0) throws -> InboxEvent<Payload> {
        try InboxEvent(envelope: event, metadata: InboxMetadata(of: try message(event, offset: offset)))
    }
}
