import Contracts
import Foundation
import Kafka

extension InboxMetadata {
    /// The identity of `message`: its id is the `ce_id` header, else the CloudEvents `id` in the
    /// JSON body, else its position (topic, partition, offset), which is stable across
    /// redeliveries; its type is the `ce_type` header, else the body's `type`.
    public init(of message: KafkaConsumerMessage) {
        var id = message.headers.first(named: "ce_id")?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        var type = message.headers.first(named: "ce_type")?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        if id == nil || type == nil, let value = message.value,
            let probe = try? JSONDecoder().decode(EnvelopeProbe.self, from: Data(value))
        {
            id = id ?? probe.id.flatMap { $0.isEmpty ? nil : $0 }
            type = type ?? probe.type.flatMap { $0.isEmpty ? nil : $0 }
        }
        var headers: [String: String] = [:]
        for header in message.headers {
            if let text = header.stringValue { headers[header.key] = text }
        }
        self.init(
            eventID: id ?? "\(message.topic)/\(message.partition.rawValue)/\(message.offset.rawValue)", eventType: type,
            topic: message.topic, partition: message.partition.rawValue, offset: message.offset.rawValue,
            key: message.key.map { String(decoding: $0, as: UTF8.self) } ?? "", value: message.value ?? [], headers: headers)
    }
}

/// The two envelope attributes the inbox reads before any handler decodes the event.
private struct EnvelopeProbe: Decodable {
    var id: String?
    var type: String?
}
