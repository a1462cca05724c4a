import Contracts
import Foundation
import Kafka
import Logging
import PostgresNIO
import Storage

/// The gateway's stored webhooks as the relay feed of `tally.ingest.raw-webhooks.v1`: the event
/// of each row is built from the row itself (`RawWebhookEvent`), so the body is written once.
///
/// Guarantees (with migration 0113):
/// - Rows are read in commit-position order, only from transactions that have all ended, so no
///   row can commit behind a position already read: nothing is skipped, however commits
///   interleave.
/// - Progress is recorded only as an unbroken prefix (`CommitOrderProgress`): rows past a
///   failure may be published twice; the normalizer's inbox skips the repeat by event id.
/// - The event of a row is the same every time it is built (the id is the inbox id, the time
///   the time it was received).
struct RawWebhookFeed: RelayFeed {
    let schema: ServiceSchema
    let client: PostgresClient
    let logger: Logger

    private let progress: CommitOrderProgress

    init(client: PostgresClient, schema: ServiceSchema, logger: Logger) {
        self.client = client
        self.schema = schema
        self.logger = logger
        self.progress = CommitOrderProgress(client: client, table: "\(schema.name).raw_publications", rowType: "uuid", logger: logger)
    }

    var name: String { "raw_webhooks" }
    /// Rung by `accept_webhooks` when it stored a row.
    var channel: String { "\(schema.name)_raw_webhooks" }

    func restart() async {
        progress.restart()
    }

    func read(inFlight: [CommitPosition], limit: Int) async throws -> [(position: CommitPosition, message: KafkaProducerMessage)] {
        let after = try await progress.readStart(inFlight: inFlight)
        let rows = try await client.query(
            """
            SELECT txid::text, id, org_id, source_id, provider, provider_event_id, provider_event_type, trust, content_type, body, body_sha256, received_at
            FROM \(unescaped: schema.name).unpublished_webhooks(\(after.transaction)::xid8, \(after.row)::uuid, \(limit)::int)
            """, logger: logger)
        var read: [(position: CommitPosition, message: KafkaProducerMessage)] = []
        for try await row in rows.decode((String, UUID, String, String, String, String, String, String, String, ByteBuffer, String, Date).self) {
            let inboxID = row.1.uuidString.lowercased()
            guard let provider = WebhookProvider(rawValue: row.4), let trust = WebhookTrust(rawValue: row.7) else {
                // Never guessed: the relay stops here and retries, and its backlog age alerts.
                throw UnreadableInboxRow(inboxID: inboxID)
            }
            let stored = RawWebhookEvent.Stored(
                inboxID: row.1, orgID: row.2, sourceID: row.3, provider: provider, providerEventID: row.5, providerEventType: row.6,
                receivedAt: row.11, trust: trust, contentType: row.8, bodyBase64: Data(buffer: row.9).base64EncodedString(), bodySHA256: row.10)
            read.append((CommitPosition(transaction: row.0, row: inboxID), try OutboxMessage(RawWebhookEvent.envelope(stored)).kafkaMessage))
        }
        return read
    }

    func settle(_ positions: [CommitPosition], outcomes: [Result<Void, KafkaError>]) async throws {
        try await progress.settle(positions, outcomes: outcomes)
    }

    func backlog() async throws -> (messages: Int64, oldestAgeSeconds: Double) {
        let rows = try await client.query("SELECT messages, oldest_age_seconds FROM \(unescaped: schema.name).raw_webhook_backlog()", logger: logger)
        for try await (count, age) in rows.decode((Int64, Double).self) { return (count, age) }
        return (0, 0)
    }

    /// Deletes publication records older than `retention`, never the latest (it is the position).
    func prune(olderThan retention: Duration) async throws -> Int {
        try await progress.prune(olderThan: retention, limit: Self.pruneLimit)
    }
}
