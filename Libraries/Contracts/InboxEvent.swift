import Foundation

/// Where a consumed event came from and how the inbox knows it: what a handler may need besides
/// the decoded event (to dead-letter it unchanged, or to log its position).
public struct InboxMetadata: Sendable, Equatable {
    /// The id the inbox deduplicates on (see `InboxMetadata.init(of:)` in Storage).
    public var eventID: String
    /// The CloudEvents `type`, when the message says.
    public var eventType: String?
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// The message key as text (empty when the message has none).
    public var key: String
    /// The message's bytes, unchanged.
    public var value: [UInt8]
    /// The message's headers whose values are text.
    public var headers: [String: String]

    public init(eventID: String, eventType: String?, topic: String, partition: Int32, offset: Int64, key: String, value: [UInt8], headers: [String: String]) {
        self.eventID = eventID
        self.eventType = eventType
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// One decoded event as a typed handler receives it: the envelope with its payload, its org,
/// and where it came from.
public struct InboxEvent<Payload: EventPayload>: Sendable {
    public var envelope: EventEnvelope<Payload>
    /// The org the event belongs to (never empty: an event without one is refused).
    public var tenant: TenantID
    public var metadata: InboxMetadata

    public init(envelope: EventEnvelope<Payload>, metadata: InboxMetadata) throws(UndecodableEvent) {
        guard let tenant = TenantID(rawValue: envelope.tenant) else {
            throw UndecodableEvent(eventID: metadata.eventID, eventType: Payload.eventType, reason: "the event names no tenant")
        }
        self.envelope = envelope
        self.tenant = tenant
        self.metadata = metadata
    }

    /// Decodes the message `metadata` describes as an event of `Payload`'s type.
    public init(decoding metadata: InboxMetadata) throws(UndecodableEvent) {
        let envelope: EventEnvelope<Payload>
        do {
            envelope = try CanonicalJSON.decode(EventEnvelope<Payload>.self, from: metadata.value)
        } catch {
            throw UndecodableEvent(eventID: metadata.eventID, eventType: Payload.eventType, reason: DecodingFailure.describe(error))
        }
        try self.init(envelope: envelope, metadata: metadata)
    }

    /// The payload.
    public var data: Payload { envelope.data }
}

/// A registered event type whose message does not decode into it; the event is dead-lettered
/// with this as its reason.
public struct UndecodableEvent: Error, CustomStringConvertible, Equatable {
    public var eventID: String
    public var eventType: String
    public var reason: String

    public init(eventID: String, eventType: String, reason: String) {
        self.eventID = eventID
        self.eventType = eventType
        self.reason = reason
    }

    public var description: String { "event \(eventID) does not decode as \(eventType): \(reason)" }
}

/// A decoding error in words an operator or a caller can act on: the path of the field and what
/// was wrong (never the value that was read).
public enum DecodingFailure {
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "the document" : "'\(path)'"
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context))"
            return "missing field '\(key.stringValue)'\(parent)"
        case .typeMismatch(let type, let context): return "\(path(context)) is not a \(type): \(context.debugDescription)"
        case .valueNotFound(let type, let context): return "\(path(context)) is null where a \(type) is required"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return String(describing: error)
        }
    }
}
