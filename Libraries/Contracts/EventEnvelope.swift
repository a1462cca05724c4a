import Foundation

/// The payload of one event type. Its `eventType` carries the version (`…v1`); a breaking change
/// is a new type with a new schema, never an edit of an old one.
public protocol EventPayload: Codable, Sendable, Equatable {
    /// The CloudEvents `type`, e.g. `tally.ingest.webhook-received.v1`.
    static var eventType: String { get }
    /// The topic this event is published on.
    static var topic: TallyTopic { get }
    /// The Kafka key: the aggregate whose order matters.
    var partitionKey: String { get }
}

/// Every event on every topic: CloudEvents 1.0 attributes plus Tally's tenant, correlation and
/// causation ids, with the typed payload in `data`. Encoded as CloudEvents structured JSON.
public struct EventEnvelope<Payload: EventPayload>: Codable, Sendable, Equatable {
    /// Unique per event; consumers deduplicate on it.
    public var id: String
    /// The producing service, as a URI reference (`/tally/ingest-gateway`).
    public var source: String
    /// Always `Payload.eventType`; decoding refuses any other type.
    public var type: String
    public var specversion: String
    /// When the fact happened; written as RFC 3339 UTC with milliseconds.
    public var time: Date
    /// The aggregate the event is about (the same as the Kafka key).
    public var subject: String
    public var datacontenttype: String
    /// The org (tenant) the event belongs to.
    public var tenant: String
    /// The id shared by everything caused by one outside request.
    public var correlationid: String
    /// The id of the event or request that directly caused this one.
    public var causationid: String?
    public var data: Payload

    public init(id: String, source: String, time: Date, tenant: String, correlationID: String, causationID: String?, data: Payload) {
        self.id = id
        self.source = source
        self.type = Payload.eventType
        self.specversion = "1.0"
        self.time = time
        self.subject = data.partitionKey
        self.datacontenttype = "application/json"
        self.tenant = tenant
        self.correlationid = correlationID
        self.causationid = causationID
        self.data = data
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        guard type == Payload.eventType else {
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "expected \(Payload.eventType), got \(type)")
        }
        let specversion = try container.decode(String.self, forKey: .specversion)
        guard specversion == "1.0" else {
            throw DecodingError.dataCorruptedError(forKey: .specversion, in: container, debugDescription: "unsupported CloudEvents specversion \(specversion)")
        }
        self.type = type
        self.specversion = specversion
        self.id = try container.decode(String.self, forKey: .id)
        self.source = try container.decode(String.self, forKey: .source)
        self.time = try container.decode(Date.self, forKey: .time)
        self.subject = try container.decode(String.self, forKey: .subject)
        self.datacontenttype = try container.decode(String.self, forKey: .datacontenttype)
        self.tenant = try container.decode(String.self, forKey: .tenant)
        self.correlationid = try container.decode(String.self, forKey: .correlationid)
        self.causationid = try container.decodeIfPresent(String.self, forKey: .causationid)
        self.data = try container.decode(Payload.self, forKey: .data)
    }
}

/// The one JSON form every event is written in: keys sorted, no insignificant whitespace, no
/// escaped slashes. Producers encode with it; contract fixtures are stored in it byte for byte.
public enum CanonicalJSON {
    /// Times (`Date`) are written in `RFC3339`'s one form, UTC with milliseconds.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.string(date))
        }
        return Array(try encoder.encode(value))
    }

    /// Times are read from any RFC 3339 text (`RFC3339.parse`); anything else is a decoding
    /// error naming the field.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an RFC 3339 time")
            }
            return date
        }
        return try decoder.decode(type, from: Data(bytes))
    }

    /// A flat object of strings (Kafka headers, request headers) in the same form: keys sorted,
    /// no whitespace. Written directly: on hot paths this replaces a trip through Foundation.
    public static func object(_ fields: [String: String]) -> String {
        var text = "{"
        for (index, key) in fields.keys.sorted().enumerated() {
            if index > 0 { text += "," }
            appendString(key, to: &text)
            text += ":"
            appendString(fields[key]!, to: &text)
        }
        return text + "}"
    }

    private static func appendString(_ value: String, to text: inout String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
