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
    /// Stored now; its raw-webhook event is on its way.
    case accepted(inboxID: UUID)
    /// Already stored under this source and provider event id; `conflict` when the body differs.
    case duplicate(inboxID: UUID, conflict: Bool)

    var inboxID: UUID {
        switch self {
        case .accepted(let id), .duplicate(let id, _): id
        }
    }
}

/// The gateway's inbox: accepted webhooks, each stored once, which is what queues its event.
struct WebhookInboxStore: Sendable {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger

    /// Stores `webhook`, which queues its `WebhookReceived` event (`RawWebhookFeed`). Only after
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
    ///
    /// Three round trips: BEGIN, the `accept_webhooks` function (migration 0113), which stores
    /// the rows and resolves repeats, and COMMIT. A stored row is its own raw-webhook event
    /// (`RawWebhookFeed` publishes it): the body is written once. The explicit transaction
    /// is what makes the answer safe: postgres-nio hands over a statement's rows when its
    /// command completes, and in an implicit (autocommit) transaction that is before the commit,
    /// so a webhook could be acknowledged whose commit then failed.
    func accept(batch webhooks: [IncomingWebhook], tenant: TenantID) async throws -> [AcceptOutcome] {
        let ids = InboxID.batch(webhooks.count)
        let hashes = webhooks.map(\.bodySHA256)
        let bodies = webhooks.map { Data($0.body).base64EncodedString() }
        return try await client.withTransaction(logger: logger) { connection in
            // Read inside the transaction: an answer the gateway cannot use rolls the batch back.
            var outcomes = [AcceptOutcome?](repeating: nil, count: webhooks.count)
            for try await (position, inboxID, outcome) in try await connection.query(
                """
                SELECT out_position, out_inbox_id, out_outcome FROM \(unescaped: schema.name).accept_webhooks(
                    \(tenant.rawValue), \(ids)::uuid[], \(webhooks.map(\.source.id))::text[], \(webhooks.map(\.source.provider.rawValue))::text[],
                    \(webhooks.map(\.providerEventID))::text[], \(webhooks.map(\.providerEventType))::text[],
                    \(webhooks.map(\.trust.rawValue))::text[], \(webhooks.map(\.contentType))::text[], \(bodies)::text[],
                    \(hashes)::text[], \(webhooks.map(\.body.count))::int4[],
                    \(webhooks.map { CanonicalJSON.object($0.verificationHeaders) })::text[], \(webhooks.map(\.receivedAt))::timestamptz[])
                """, logger: logger
            ).decode((Int, UUID?, String).self) {
                let index = position - 1
                guard outcomes.indices.contains(index) else { throw UnexpectedIntakeAnswer(detail: "position \(position) of \(webhooks.count)") }
                switch (outcome, inboxID) {
                case ("accepted", let id?): outcomes[index] = .accepted(inboxID: id)
                case ("duplicate", let id?): outcomes[index] = .duplicate(inboxID: id, conflict: false)
                case ("conflict", let id?): outcomes[index] = .duplicate(inboxID: id, conflict: true)
                case ("invisible", _):
                    throw DuplicateNotVisible(sourceID: webhooks[index].source.id, providerEventID: webhooks[index].providerEventID)
                default: throw UnexpectedIntakeAnswer(detail: "outcome \(outcome) at position \(position)")
                }
            }
            return try outcomes.enumerated().map { index, outcome in
                guard let outcome else { throw UnexpectedIntakeAnswer(detail: "no outcome for position \(index + 1)") }
                return outcome
            }
        }
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
            try await client.query(
                """
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

/// The intake function answered something the gateway does not know how to read (a migration
/// and the code disagree); the batch is not acknowledged.
struct UnexpectedIntakeAnswer: Error, CustomStringConvertible {
    let detail: String
    var description: String { "unexpected answer from accept_webhooks: \(detail)" }
}
