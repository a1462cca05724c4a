import Contracts
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage

/// A verified webhook, ready to be stored.
struct IncomingWebhook: Sendable {
    var source: Source
    var providerEventID: String
    var providerEventType: String
    var trust: WebhookTrust
    var contentType: String
    var body: [UInt8]
    /// Only the headers needed to verify the request again.
    var verificationHeaders: [String: String]
    var receivedAt: Date

    var bodySHA256: String { ContentHash.sha256Hex(body) }
}

/// What storing a webhook did.
enum AcceptOutcome: Equatable, Sendable {
    /// Stored now, with its raw-webhook event in the outbox.
    case accepted(inboxID: UUID)
    /// Already stored under this source and provider event id; `conflict` when the body differs.
    case duplicate(inboxID: UUID, conflict: Bool)

    var inboxID: UUID {
        switch self {
        case .accepted(let id), .duplicate(let id, _): id
        }
    }
}

/// The gateway's inbox: accepted webhooks and their raw-webhook events, written together.
struct WebhookInboxStore: Sendable {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger

    /// Stores `webhook` and its `WebhookReceived` outbox event in one transaction. Only after
    /// this returns may the gateway answer 2xx. The commit waits for its WAL flush whatever the
    /// server's `synchronous_commit` says, so an acknowledged webhook survives a database crash.
    func accept(_ webhook: IncomingWebhook) async throws -> AcceptOutcome {
        guard let tenant = TenantID(rawValue: webhook.source.orgID) else { throw StorageError.missingTenant }
        return try await accept(batch: [webhook], tenant: tenant)[0]
    }

    /// Stores several webhooks of one org in one transaction: one commit (and one WAL flush) for
    /// all of them, with the same guarantees as `accept` for each. Outcomes are in input order; a
    /// repeated provider event id, within the batch or with an earlier row, is a duplicate of the
    /// first stored row. Throws for the whole batch; nothing is stored then.
    func accept(batch webhooks: [IncomingWebhook], tenant: TenantID) async throws -> [AcceptOutcome] {
        let table = schema.name
        let ids = webhooks.map { _ in UUID() }
        let hashes = webhooks.map(\.bodySHA256)
        let headers = webhooks.map { CanonicalJSON.object($0.verificationHeaders) }
        let bodies = webhooks.map { Data($0.body).base64EncodedString() }
        return try await client.withTransaction(logger: logger) { connection in
            try await connection.query("""
                SELECT set_config('tally.org_id', \(tenant.rawValue), true), set_config('synchronous_commit', 'on', true)
                """, logger: logger)
            // Rows go in by (source, event id) so concurrent batches lock in the same order;
            // the position breaks ties, so the earlier of two deliveries of one id is stored.
            var inserted = Set<UUID>()
            for try await id in try await connection.query("""
                INSERT INTO \(unescaped: table).webhook_inbox
                    (id, org_id, source_id, provider, provider_event_id, provider_event_type, trust, content_type, body, body_sha256, headers, received_at)
                SELECT w.id, \(tenant.rawValue), w.source_id, w.provider, w.event_id, w.event_type, w.trust, w.content_type,
                       decode(w.body, 'base64'), w.body_sha256, w.headers::jsonb, w.received_at
                FROM unnest(\(ids)::uuid[], \(webhooks.map(\.source.id))::text[], \(webhooks.map(\.source.provider))::text[],
                            \(webhooks.map(\.providerEventID))::text[], \(webhooks.map(\.providerEventType))::text[],
                            \(webhooks.map(\.trust.rawValue))::text[], \(webhooks.map(\.contentType))::text[], \(bodies)::text[],
                            \(hashes)::text[], \(headers)::text[], \(webhooks.map(\.receivedAt))::timestamptz[])
                     WITH ORDINALITY AS w(id, source_id, provider, event_id, event_type, trust, content_type, body, body_sha256, headers, received_at, position)
                ORDER BY w.source_id, w.event_id, w.position
                ON CONFLICT (source_id, provider_event_id) DO NOTHING
                RETURNING id
                """, logger: logger).decode(UUID.self) {
                inserted.insert(id)
            }
            var events: [OutboxMessage] = []
            for (index, webhook) in webhooks.enumerated() where inserted.contains(ids[index]) {
                events.append(try Self.receivedEvent(webhook, inboxID: ids[index], bodyBase64: bodies[index], bodySHA256: hashes[index]))
            }
            try await Outbox(schema: schema).enqueue(events, on: connection, logger: logger)

            let repeated = webhooks.indices.filter { !inserted.contains(ids[$0]) }
            guard !repeated.isEmpty else { return ids.map { .accepted(inboxID: $0) } }
            var stored: [String: (UUID, String)] = [:]
            for try await (id, sourceID, eventID, hash) in try await connection.query("""
                SELECT w.id, w.source_id, w.provider_event_id, w.body_sha256
                FROM \(unescaped: table).webhook_inbox w
                JOIN unnest(\(repeated.map { webhooks[$0].source.id })::text[], \(repeated.map { webhooks[$0].providerEventID })::text[]) AS k(source_id, event_id)
                  ON w.source_id = k.source_id AND w.provider_event_id = k.event_id
                """, logger: logger).decode((UUID, String, String, String).self) {
                stored[sourceID + "\u{0}" + eventID] = (id, hash)
            }
            var outcomes: [AcceptOutcome] = []
            for (index, webhook) in webhooks.enumerated() {
                if inserted.contains(ids[index]) {
                    outcomes.append(.accepted(inboxID: ids[index]))
                    continue
                }
                guard let (firstID, firstHash) = stored[webhook.source.id + "\u{0}" + webhook.providerEventID] else {
                    throw DuplicateNotVisible(sourceID: webhook.source.id, providerEventID: webhook.providerEventID)
                }
                let conflict = firstHash != hashes[index]
                if conflict {
                    try await connection.query("""
                        INSERT INTO \(unescaped: table).webhook_conflicts (org_id, inbox_id, source_id, provider_event_id, body_sha256, body_size)
                        VALUES (\(tenant.rawValue), \(firstID), \(webhook.source.id), \(webhook.providerEventID), \(hashes[index]), \(webhook.body.count))
                        """, logger: logger)
                }
                outcomes.append(.duplicate(inboxID: firstID, conflict: conflict))
            }
            return outcomes
        }
    }

    /// The `webhook.received` event announcing a stored webhook; its id is the inbox id.
    static func receivedEvent(_ webhook: IncomingWebhook, inboxID: UUID, bodyBase64: String, bodySHA256: String) throws -> OutboxMessage {
        let id = inboxID.uuidString.lowercased()
        return try OutboxMessage(EventEnvelope(
            id: id, source: "/tally/ingest-gateway", time: RFC3339.string(webhook.receivedAt),
            tenant: webhook.source.orgID, correlationID: id, causationID: nil,
            data: WebhookReceived(
                inboxID: id, sourceID: webhook.source.id,
                provider: WebhookProvider(rawValue: webhook.source.provider) ?? .standard,
                providerEventID: webhook.providerEventID, providerEventType: webhook.providerEventType,
                receivedAt: RFC3339.string(webhook.receivedAt), trust: webhook.trust, contentType: webhook.contentType,
                bodyBase64: bodyBase64, bodySHA256: bodySHA256
            )
        ))
    }

    /// How many refused requests the log keeps; older ones are deleted as new ones arrive.
    static let refusalLogCapacity = 100_000

    /// Records a refused request (metadata only) and trims the log to its capacity. Failures to
    /// record are logged, never thrown: a refusal must not turn into a 500.
    func recordRefusal(sourceID: String, orgID: String?, reason: String, status: Int, body: [UInt8], remoteAddress: String?) async {
        let hash = body.isEmpty ? nil : ContentHash.sha256Hex(body)
        do {
            // The id is taken first: RETURNING would need the row to be readable, and a refusal
            // of an unknown source belongs to no org.
            var newID: Int64 = 0
            for try await id in try await client.query(
                "SELECT nextval(pg_get_serial_sequence(\(schema.name + ".refused_requests"), 'id'))", logger: logger
            ).decode(Int64.self) { newID = id }
            try await client.query("""
                INSERT INTO \(unescaped: schema.name).refused_requests (id, org_id, source_id, reason, http_status, body_size, body_sha256, remote_address)
                VALUES (\(newID), \(orgID), \(String(sourceID.prefix(100))), \(reason), \(status), \(body.count), \(hash), \(remoteAddress))
                """, logger: logger)
            if newID > Int64(Self.refusalLogCapacity), newID % 100 == 0 {
                try await client.query("DELETE FROM \(unescaped: schema.name).refused_requests WHERE id <= \(newID - Int64(Self.refusalLogCapacity))", logger: logger)
            }
        } catch {
            logger.error("could not record a refused webhook", metadata: ["reason": "\(reason)", "error": "\(error)"])
        }
    }
}

/// The insert hit the (source, provider event id) constraint but the existing row is not visible
/// in this org: the source's org and its inbox disagree, which must be investigated, not hidden.
struct DuplicateNotVisible: Error, CustomStringConvertible {
    let sourceID: String
    let providerEventID: String
    var description: String { "inbox row for \(sourceID)/\(providerEventID) exists but is not visible to the source's org" }
}
