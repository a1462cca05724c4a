import Contracts
import Foundation
import Kafka
import Logging
import PostgresNIO

extension OutboxMessage {
    /// The message as the relay produces it (headers sorted by name).
    public var kafkaMessage: KafkaProducerMessage {
        KafkaProducerMessage(
            topic: topic,
            key: Array(key.utf8),
            value: payload,
            headers: headers.sorted { $0.key < $1.key }.map { KafkaHeader(key: $0.key, string: $0.value) }
        )
    }
}

/// Messages as the outbox table's columns, one array per column in message order, in the text
/// forms the insert binds: payloads in base64 (decoded by the statement) and headers as canonical
/// JSON, as `Outbox.enqueue` binds them.
public struct OutboxColumns: Sendable {
    public var eventIDs: [String] = []
    public var topics: [String] = []
    public var keys: [String] = []
    public var payloads: [String] = []
    public var headers: [String] = []
    /// Empty for a message without an org (the insert stores NULL).
    public var orgs: [String] = []

    public init(_ messages: [OutboxMessage]) {
        for message in messages {
            eventIDs.append(message.eventID)
            topics.append(message.topic)
            keys.append(message.key)
            payloads.append(Data(message.payload).base64EncodedString())
            headers.append(CanonicalJSON.object(message.headers))
            orgs.append(message.orgID ?? "")
        }
    }
}

/// Writes events into the outbox inside the caller's transaction, so the state change and the
/// events it announces commit together or not at all.
public struct Outbox: Sendable {
    public let schema: ServiceSchema

    public init(schema: ServiceSchema) { self.schema = schema }

    /// Inserts `messages` on `connection` (which should be inside a transaction), in order, in
    /// one statement. A message whose event id is already in the outbox is skipped.
    public func enqueue(_ messages: [OutboxMessage], on connection: PostgresConnection, logger: Logger) async throws {
        guard !messages.isEmpty else { return }
        let columns = OutboxColumns(messages)
        // Row ids follow the order of `messages`, so the relay publishes them in that order.
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).outbox (event_id, topic, message_key, payload, headers, org_id)
            SELECT m.event_id, m.topic, m.message_key, decode(m.payload, 'base64'), m.headers::jsonb, NULLIF(m.org_id, '')
            FROM unnest(\(columns.eventIDs)::text[], \(columns.topics)::text[], \(columns.keys)::text[], \(columns.payloads)::text[],
                        \(columns.headers)::text[], \(columns.orgs)::text[])
                 WITH ORDINALITY AS m(event_id, topic, message_key, payload, headers, org_id, position)
            ORDER BY m.position
            ON CONFLICT (event_id) DO NOTHING
            """, logger: logger)
    }
}

extension Outbox {
    /// The most rows one `prunePublished` call looks at.
    public static let pruneLimit = 5000

    /// Deletes rows created more than `age` ago that are published (at or before the latest
    /// `outbox_publications` position, or published before commit order, with a NULL txid),
    /// looking only at the `limit` oldest rows of the table, and returns how many it deleted.
    /// The cost of a call does not grow with the table; a row not yet published is never
    /// deleted, however old.
    public func prunePublished(olderThan age: Duration, limit: Int = Outbox.pruneLimit, client: PostgresClient, logger: Logger) async throws -> Int {
        let rows = try await client.query(
            """
            WITH head AS (SELECT id FROM \(unescaped: schema.name).outbox ORDER BY id LIMIT \(limit)),
                 position AS (SELECT up_to_txid, up_to_id FROM \(unescaped: schema.name).outbox_publications ORDER BY id DESC LIMIT 1),
                 deleted AS (
                     DELETE FROM \(unescaped: schema.name).outbox o USING head, position p
                     WHERE o.id = head.id AND o.created_at < now() - \(age.components.seconds)::int8 * interval '1 second'
                       AND (o.txid IS NULL OR (o.txid, o.id) <= (p.up_to_txid, p.up_to_id))
                     RETURNING 1
                 )
            SELECT count(*)::int FROM deleted
            """, logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }
}

/// Binds bytes as `bytea` in a query.
public struct PostgresBytes: PostgresEncodable, Sendable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public static var psqlType: PostgresDataType { .bytea }
    public static var psqlFormat: PostgresFormat { .binary }
    public func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeBytes(bytes)
    }
}
