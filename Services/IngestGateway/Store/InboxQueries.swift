import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// One inbox row as operators see it (the body only on request).
struct InboxEntry: Codable, Sendable, Equatable {
    var id: String
    var sourceID: String
    var provider: String
    var providerEventID: String
    var providerEventType: String
    var trust: String
    var status: String
    var statusReason: String?
    var receivedAt: String
    var bodySHA256: String
    /// Base64 of the exact bytes received; only for owner and admin roles.
    var bodyBase64: String?

    enum CodingKeys: String, CodingKey {
        case id, sourceID = "source_id", provider, providerEventID = "provider_event_id", providerEventType = "provider_event_type"
        case trust, status, statusReason = "status_reason", receivedAt = "received_at", bodySHA256 = "body_sha256", bodyBase64 = "body_base64"
    }
}

/// Which inbox rows an operator means: every field is optional and they combine with AND.
struct InboxFilter: Codable, Sendable, Equatable {
    var status: String?
    var provider: String?
    var eventType: String?
    var sourceID: String?
    /// RFC 3339; inclusive.
    var from: String?
    /// RFC 3339; exclusive.
    var to: String?
    var ids: [String]?

    enum CodingKeys: String, CodingKey {
        case status, provider, eventType = "event_type", sourceID = "source_id", from, to, ids
    }

    /// Appends the WHERE clause for `org`'s matching rows, every value bound as a parameter.
    /// The org is named even though row-level security hides other orgs' rows anyway: for reads
    /// the operators' policy is OR-ed with the tenant policy, and no index can serve that OR, so
    /// only this condition lets the listing index serve the query. `cursor` continues a walk in
    /// `order` (the listing's newest first, a replay's oldest first) after the row it names.
    func appendWhere(to sql: inout PostgresQuery.StringInterpolation, org: TenantID, after cursor: InboxCursor?, order: InboxOrder = .newestFirst) {
        sql.appendLiteral(" WHERE org_id = ")
        sql.appendInterpolation(org.rawValue)
        if let status { sql.appendLiteral(" AND status = "); sql.appendInterpolation(status) }
        if let provider { sql.appendLiteral(" AND provider = "); sql.appendInterpolation(provider) }
        if let eventType { sql.appendLiteral(" AND provider_event_type = "); sql.appendInterpolation(eventType) }
        if let sourceID { sql.appendLiteral(" AND source_id = "); sql.appendInterpolation(sourceID) }
        // Times are bound as parsed instants, not as the caller's text: PostgreSQL's own parser
        // refuses parts of RFC 3339 (offsets beyond ±15:59, the year 0000). A time that does not
        // parse (a filter that skipped `validate()`) matches nothing.
        for (bound, text) in [(" AND received_at >= ", from), (" AND received_at < ", to)] {
            guard let text else { continue }
            guard let instant = RFC3339.parse(text) else { sql.appendLiteral(" AND false"); continue }
            sql.appendLiteral(bound)
            sql.appendInterpolation(instant)
        }
        // Compared as UUIDs so the primary key serves the lookup; a malformed id matches nothing.
        if let ids { sql.appendLiteral(" AND id = ANY("); sql.appendInterpolation(ids.compactMap { UUID(uuidString: $0) }); sql.appendLiteral(")") }
        if let cursor {
            // The cursor's id is a validated UUID; compared as one, in the order the walk sorts.
            sql.appendLiteral(order == .newestFirst ? " AND (received_at, id) < (" : " AND (received_at, id) > (")
            sql.appendInterpolation(cursor.receivedAt)
            sql.appendLiteral("::timestamptz, ")
            sql.appendInterpolation(cursor.id)
            sql.appendLiteral("::uuid)")
        }
    }

    /// The filter with empty text values dropped (an empty provider, event type or source means
    /// no such filter), or the first value that is not what it claims to be, naming the field and
    /// the rule. A status or a time must be one: an empty `status`, `from` or `to` is refused.
    func validate() throws(FilterError) -> InboxFilter {
        var filter = self
        if let status = filter.status, InboxStatus(rawValue: status) == nil {
            throw FilterError(field: "status", rule: "must be one of \(InboxStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        for (field, value) in [("provider", \InboxFilter.provider), ("event_type", \.eventType), ("source_id", \.sourceID)] {
            guard let text = filter[keyPath: value], !text.isEmpty else {
                filter[keyPath: value] = nil
                continue
            }
            if text.unicodeScalars.contains("\u{0}") { throw FilterError(field: field, rule: "must not contain the NUL character (U+0000)") }
            if text.unicodeScalars.count > 1000 { throw FilterError(field: field, rule: "must be at most 1000 characters") }
        }
        for (field, value) in [("from", filter.from), ("to", filter.to)] {
            if let value, RFC3339.parse(value) == nil { throw FilterError(field: field, rule: "must be an RFC 3339 time") }
        }
        if let ids = filter.ids {
            if ids.count > 10_000 { throw FilterError(field: "ids", rule: "may hold at most 10000 entries") }
            if let bad = ids.first(where: { UUID(uuidString: $0) == nil }) {
                throw FilterError(field: "ids", rule: "must hold inbox ids (UUIDs); '\(bad.prefix(64))' is not one")
            }
        }
        return filter
    }

    /// A filter value that breaks a rule.
    struct FilterError: Error, CustomStringConvertible {
        let field: String
        let rule: String
        var description: String { "\(field) \(rule)" }
    }
}

/// Keyset pagination over (received_at, id), newest first; opaque to clients.
/// Which way a walk over an org's inbox goes, by (received_at, id).
enum InboxOrder { case newestFirst, oldestFirst }

struct InboxCursor: Equatable {
    var receivedAt: String
    var id: String

    var token: String { Data("\(receivedAt)|\(id)".utf8).base64EncodedString() }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ` with a year from 0001.
    static func isWrittenForm(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 27, !text.hasPrefix("0000") else { return false }
        for (index, byte) in bytes.enumerated() {
            switch index {
            case 4, 7: if byte != UInt8(ascii: "-") { return false }
            case 10: if byte != UInt8(ascii: "T") { return false }
            case 13, 16: if byte != UInt8(ascii: ":") { return false }
            case 19: if byte != UInt8(ascii: ".") { return false }
            case 26: if byte != UInt8(ascii: "Z") { return false }
            default: if !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { return false }
            }
        }
        return true
    }

    init(receivedAt: String, id: String) {
        self.receivedAt = receivedAt
        self.id = id
    }

    init?(token: String) {
        guard let data = Data(base64Encoded: token) else { return nil }
        let parts = String(decoding: data, as: UTF8.self).split(separator: "|", maxSplits: 1).map(String.init)
        // Only the form this API writes (UTC, microseconds), which PostgreSQL reads back exactly.
        guard parts.count == 2, Self.isWrittenForm(parts[0]), RFC3339.parse(parts[0]) != nil, UUID(uuidString: parts[1]) != nil else { return nil }
        self.init(receivedAt: parts[0], id: parts[1])
    }
}

/// Operator queries over the inbox and the refusal and conflict logs; all tenant-scoped.
struct InboxQueries: Sendable {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger
    /// Rows per transaction of an executed replay.
    var replayChunkSize = 500

    /// A timestamp column as RFC 3339 text in UTC with microseconds: exact, so it can be read
    /// back as a position (`::timestamptz`).
    static func utcText(_ column: String) -> String {
        "to_char(\(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    }

    static let columns = """
        id::text, source_id, provider, provider_event_id, provider_event_type, trust, status, status_reason,
        \(utcText("received_at")), body_sha256
        """

    /// An org's page of the inbox, newest first, after `cursor`.
    static func listQuery(schema: ServiceSchema, org: TenantID, filter: InboxFilter, cursor: InboxCursor?, limit: Int) -> PostgresQuery {
        var sql = PostgresQuery.StringInterpolation(literalCapacity: 512, interpolationCount: 10)
        sql.appendLiteral("SELECT \(Self.columns) FROM \(schema.name).webhook_inbox")
        filter.appendWhere(to: &sql, org: org, after: cursor)
        sql.appendLiteral(" ORDER BY received_at DESC, id DESC LIMIT \(limit)")
        return PostgresQuery(stringInterpolation: sql)
    }

    func list(org: TenantID, filter: InboxFilter, cursor: InboxCursor?, limit: Int) async throws -> ([InboxEntry], InboxCursor?) {
        let query = Self.listQuery(schema: schema, org: org, filter: filter, cursor: cursor, limit: limit)
        let entries = try await client.withTenantTransaction(org, logger: logger) { connection in
            try await Self.entries(try await connection.query(query, logger: logger), withBody: false)
        }
        let next = entries.count == limit ? entries.last.map { InboxCursor(receivedAt: $0.receivedAt, id: $0.id) } : nil
        return (entries, next)
    }

    func entry(org: TenantID, id: String, withBody: Bool) async throws -> InboxEntry? {
        guard let uuid = UUID(uuidString: id) else { return nil }
        return try await client.withTenantTransaction(org, logger: logger) { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.columns), encode(body, 'base64') FROM \(unescaped: schema.name).webhook_inbox WHERE id = \(uuid)
                """, logger: logger)
            var found: InboxEntry?
            for try await row in rows.decode((String, String, String, String, String, String, String, String?, String, String, String).self) {
                found = InboxEntry(
                    id: row.0, sourceID: row.1, provider: row.2, providerEventID: row.3, providerEventType: row.4, trust: row.5,
                    status: row.6, statusReason: row.7, receivedAt: row.8, bodySHA256: row.9,
                    bodyBase64: withBody ? row.10.replacingOccurrences(of: "\n", with: "") : nil)
            }
            return found
        }
    }

    /// Re-publishes the matching rows with a replay marker. `execute == false` only counts and
    /// lists them (at most 1000 ids shown), reading no bodies.
    ///
    /// Executing replays the rows received up to the moment it starts, oldest first, in
    /// transactions of `replayChunkSize` rows: a replay of any size stays inside the sessions'
    /// statement limit and holds one chunk in memory. The first transaction also writes the audit
    /// entry (how many rows matched); the last one writes `inbox.replay.completed`. Each row gets
    /// one outbox event, `<replay id>-<inbox id>`. If a chunk fails, the chunks before it stay
    /// replayed, `inbox.replay.interrupted` is audited (best effort) and `ReplayInterrupted` says
    /// how far it got; replaying again is safe (the normalizer derives the same canonical event
    /// ids, so nothing is applied twice downstream).
    func replay(org: TenantID, filter: InboxFilter, execute: Bool, actor: String, audit: AuditLog) async throws -> (replayID: String?, count: Int, ids: [String]) {
        guard execute else {
            var sql = PostgresQuery.StringInterpolation(literalCapacity: 256, interpolationCount: 10)
            sql.appendLiteral("SELECT id::text, count(*) OVER ()::int FROM \(schema.name).webhook_inbox")
            filter.appendWhere(to: &sql, org: org, after: nil)
            sql.appendLiteral(" ORDER BY received_at, id LIMIT 1000")
            let query = PostgresQuery(stringInterpolation: sql)
            return try await client.withTenantTransaction(org, logger: logger) { connection in
                var ids: [String] = []
                var total = 0
                for try await (id, count) in try await connection.query(query, logger: logger).decode((String, Int).self) {
                    ids.append(id)
                    total = count
                }
                return (nil, total, ids)
            }
        }
        let replayID = "rpl_" + SourceStore.randomToken(bytes: 10)
        var position: InboxCursor?
        var started: (matched: Int, cutoff: String)?
        var replayed = 0
        var firstIDs: [String] = []
        while true {
            let (known, after, soFar) = (started, position, replayed)
            let chunk: [(id: String, receivedAt: String)]
            do {
                (chunk, started) = try await client.withTenantTransaction(org, logger: logger) { connection in
                    let start: (matched: Int, cutoff: String)
                    if let known {
                        start = known
                    } else {
                        start = try await beginReplay(replayID, org: org, filter: filter, actor: actor, audit: audit, on: connection)
                    }
                    let rows = try await connection.query(replayChunkQuery(org: org, filter: filter, upTo: start.cutoff, after: after), logger: logger)
                    var chunk: [(id: String, receivedAt: String)] = []
                    var messages: [OutboxMessage] = []
                    for try await row in rows.decode((String, String, String, String, String, String, String, ByteBuffer, String, String).self) {
                        guard let inboxID = UUID(uuidString: row.0), let provider = WebhookProvider(rawValue: row.2),
                            let trust = WebhookTrust(rawValue: row.5), let receivedAt = RFC3339.parse(row.9)
                        else {
                            throw UnreadableInboxRow(inboxID: row.0)
                        }
                        let stored = RawWebhookEvent.Stored(
                            inboxID: inboxID, orgID: org.rawValue, sourceID: row.1, provider: provider, providerEventID: row.3,
                            providerEventType: row.4, receivedAt: receivedAt, trust: trust, contentType: row.6,
                            bodyBase64: Data(buffer: row.7).base64EncodedString(), bodySHA256: row.8
                        )
                        messages.append(try OutboxMessage(RawWebhookEvent.envelope(stored, replayID: replayID, publishedAt: Date())))
                        chunk.append((row.0, row.9))
                    }
                    try await Outbox(schema: schema).enqueue(messages, on: connection, logger: logger)
                    if chunk.count < replayChunkSize {
                        // The last chunk: the replay is complete when this commits.
                        try await audit.record(
                            org: org, actor: actor, action: "inbox.replay.completed", target: replayID, before: Optional<String>.none,
                            after: ["replayed": soFar + chunk.count], correlationID: replayID, on: connection, logger: logger)
                    }
                    return (chunk, start)
                }
            } catch {
                guard let known else { throw error }
                logger.error("replay interrupted", metadata: ["replay_id": "\(replayID)", "replayed": "\(replayed)", "error": "\(String(reflecting: error))"])
                await recordInterruption(replayID, replayed: replayed, org: org, actor: actor, audit: audit)
                throw ReplayInterrupted(replayID: replayID, replayed: replayed, matched: known.matched)
            }
            replayed += chunk.count
            firstIDs += chunk.prefix(max(0, 1000 - firstIDs.count)).map(\.id)
            guard chunk.count == replayChunkSize, let last = chunk.last else { break }
            position = InboxCursor(receivedAt: last.receivedAt, id: last.id)
        }
        return (replayID, replayed, firstIDs)
    }

    /// The first step of an executed replay, in its first transaction: the time that bounds the
    /// replay (rows received later are not part of it), how many rows match up to it, and the
    /// audit entry.
    private func beginReplay(
        _ replayID: String, org: TenantID, filter: InboxFilter, actor: String, audit: AuditLog,
        on connection: PostgresConnection
    ) async throws -> (matched: Int, cutoff: String) {
        var sql = PostgresQuery.StringInterpolation(literalCapacity: 256, interpolationCount: 10)
        sql.appendLiteral("SELECT count(*)::int, \(Self.utcText("now()")) FROM \(schema.name).webhook_inbox")
        filter.appendWhere(to: &sql, org: org, after: nil)
        sql.appendLiteral(" AND received_at <= now()")
        var start = (matched: 0, cutoff: "")
        for try await (count, now) in try await connection.query(PostgresQuery(stringInterpolation: sql), logger: logger).decode((Int, String).self) {
            start = (count, now)
        }
        try await audit.record(
            org: org, actor: actor, action: "inbox.replay", target: replayID, before: filter, after: ["matched": start.matched],
            correlationID: replayID, on: connection, logger: logger)
        return start
    }

    /// Best effort (the database may be what stopped the replay): an audit entry saying how far
    /// an interrupted replay got, next to its start entry.
    private func recordInterruption(_ replayID: String, replayed: Int, org: TenantID, actor: String, audit: AuditLog) async {
        do {
            try await client.withTenantTransaction(org, logger: logger) { connection in
                try await audit.record(
                    org: org, actor: actor, action: "inbox.replay.interrupted", target: replayID, before: Optional<String>.none,
                    after: ["replayed": replayed], correlationID: replayID, on: connection, logger: logger)
            }
        } catch {
            logger.warning("could not audit the interrupted replay", metadata: ["replay_id": "\(replayID)", "error": "\(String(reflecting: error))"])
        }
    }

    /// The next chunk of a replay: rows received up to `cutoff`, after `position`, oldest first.
    private func replayChunkQuery(org: TenantID, filter: InboxFilter, upTo cutoff: String, after position: InboxCursor?) -> PostgresQuery {
        var sql = PostgresQuery.StringInterpolation(literalCapacity: 512, interpolationCount: 12)
        sql.appendLiteral(
            "SELECT id::text, source_id, provider, provider_event_id, provider_event_type, trust, content_type, body, body_sha256, \(Self.utcText("received_at")) FROM \(schema.name).webhook_inbox"
        )
        filter.appendWhere(to: &sql, org: org, after: position, order: .oldestFirst)
        sql.appendLiteral(" AND received_at <= ")
        sql.appendInterpolation(cutoff)
        sql.appendLiteral("::timestamptz")
        sql.appendLiteral(" ORDER BY received_at, id LIMIT \(replayChunkSize)")
        return PostgresQuery(stringInterpolation: sql)
    }

    static func entries(_ rows: PostgresRowSequence, withBody: Bool) async throws -> [InboxEntry] {
        var entries: [InboxEntry] = []
        for try await row in rows.decode((String, String, String, String, String, String, String, String?, String, String).self) {
            entries.append(
                InboxEntry(
                    id: row.0, sourceID: row.1, provider: row.2, providerEventID: row.3, providerEventType: row.4, trust: row.5,
                    status: row.6, statusReason: row.7, receivedAt: row.8, bodySHA256: row.9, bodyBase64: nil))
        }
        return entries
    }
}

/// A stored row whose provider, trust, id or time this build cannot read (the database is ahead of
/// the code, or was edited by hand). Never guessed: the replay stops and says which row.
struct UnreadableInboxRow: Error, CustomStringConvertible {
    let inboxID: String
    var description: String { "inbox row \(inboxID) holds a provider, trust or time this build does not know" }
}

/// An executed replay stopped part-way: `replayed` of `matched` rows are on their way, the rest
/// are not. Running the replay again is safe.
struct ReplayInterrupted: Error, CustomStringConvertible {
    var replayID: String
    var replayed: Int
    var matched: Int

    var description: String {
        "replay \(replayID) stopped after \(replayed) of \(matched) webhooks; those are on their way. "
            + "Run the replay again for the rest: webhooks already processed are not applied twice."
    }
}
