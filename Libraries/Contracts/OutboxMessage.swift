import Foundation

/// A message waiting in a service's outbox table for the relay to publish it.
public struct OutboxMessage: Sendable, Equatable {
    /// Unique per message; enqueuing the same id twice stores it once.
    public var eventID: String
    public var topic: String
    public var key: String
    public var payload: [UInt8]
    public var headers: [String: String]
    public var orgID: String?

    public init(eventID: String, topic: String, key: String, payload: [UInt8], headers: [String: String] = [:], orgID: String? = nil) {
        self.eventID = eventID
        self.topic = topic
        self.key = key
        self.payload = payload
        self.headers = headers
        self.orgID = orgID
    }

    /// The outbox form of a typed event: canonical JSON, keyed by its subject, with the
    /// CloudEvents id, type and tenant also in Kafka headers (`ce_id`, `ce_type`, `ce_tenant`).
    public init<Payload: EventPayload>(_ event: EventEnvelope<Payload>) throws {
        self.init(
            eventID: event.id,
            topic: Payload.topic.name,
            key: event.subject,
            payload: try CanonicalJSON.encode(event),
            headers: ["ce_id": event.id, "ce_type": event.type, "ce_tenant": event.tenant, "content-type": "application/cloudevents+json"],
            orgID: event.tenant
        )
    }
}
