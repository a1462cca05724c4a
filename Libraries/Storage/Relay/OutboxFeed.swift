import Contracts
import Foundation
import Kafka
import Logging
import PostgresNIO

/// The service's `outbox` table as a relay feed, in commit order (`CommitOrderProgress`, platform
/// migration 10): rows are read in (txid, id) order after the recorded position, and each
/// acknowledged batch appends one entry to `outbox_publications`. Nothing is written per row to
/// publish it. A row of a transaction that is still running, or that commits after a later one,
/// is never passed over: reads stop below the oldest transaction still running.
public struct OutboxFeed: RelayFeed {
    public let schema: ServiceSchema
    let client: PostgresClient
    let logger: Logger
    let progress: CommitOrderProgress

    public init(client: PostgresClient, schema: ServiceSchema, logger: Logger) {
        self.client = client
        self.schema = schema
        self.logger = logger
        self.progress = CommitOrderProgress(client: client, table: "\(schema.name).outbox_publications", rowType: "int8", logger: logger)
    }

    public var name: String { "outbox" }
    public var channel: String { "\(schema.name)_outbox" }

    public func restart() async {
        progress.restart()
    }

    public func read(inFlight: [CommitPosition], limit: Int) async throws -> [(position: CommitPosition, message: KafkaProducerMessage)] {
        let after = try await progress.readStart(inFlight: inFlight)
        let rows = try await client.query(
            """
            SELECT txid::text, id, topic, message_key, payload, headers::text
            FROM \(unescaped: schema.name).outbox_unpublished(\(after.transaction)::xid8, \(after.row)::int8, \(limit)::int)
            """, logger: logger)
        var read: [(position: CommitPosition, message: KafkaProducerMessage)] = []
        for try await (transaction, id, topic, key, payload, headers) in rows.decode((String, Int64, String, String, ByteBuffer, String).self) {
            let headerMap = (try? JSONSerialization.jsonObject(with: Data(headers.utf8)) as? [String: String]) ?? [:]
            let message = OutboxMessage(eventID: "", topic: topic, key: key, payload: Array(buffer: payload), headers: headerMap).kafkaMessage
            read.append((CommitPosition(transaction: transaction, row: String(id)), message))
        }
        return read
    }

    public func settle(_ positions: [CommitPosition], outcomes: [Result<Void, KafkaError>]) async throws {
        try await progress.settle(positions, outcomes: outcomes)
    }

    public func backlog() async throws -> (messages: Int64, oldestAgeSeconds: Double) {
        let rows = try await client.query(
            """
            SELECT count(*)::bigint, COALESCE(EXTRACT(EPOCH FROM now() - min(o.created_at)), 0)::float8
            FROM \(unescaped: schema.name).outbox o,
                 (SELECT up_to_txid, up_to_id FROM \(unescaped: schema.name).outbox_publications ORDER BY id DESC LIMIT 1) p
            WHERE o.txid IS NOT NULL AND (o.txid, o.id) > (p.up_to_txid, p.up_to_id)
            """, logger: logger)
        for try await (count, age) in rows.decode((Int64, Double).self) { return (count, age) }
        return (0, 0)
    }

    /// Deletes rows created more than `retention` ago and published, among the `pruneLimit`
    /// oldest, and publication entries as old (never the latest). A row not yet published is
    /// never deleted, however old.
    public func prune(olderThan retention: Duration) async throws -> Int {
        let rows = try await Outbox(schema: schema).prunePublished(olderThan: retention, limit: Self.pruneLimit, client: client, logger: logger)
        let entries = try await progress.prune(olderThan: retention, limit: Self.pruneLimit)
        return max(rows, entries)
    }
}
