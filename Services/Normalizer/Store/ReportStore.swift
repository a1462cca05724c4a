import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// What the normalizer did with one inbox row: its outcome and the canonical events it made.
struct Lineage: Encodable, Sendable {
    struct Entry: Encodable, Sendable {
        var canonicalEventID: String
        var position: Int
        var eventType: String
        /// `emitted`, or `superseded` when a newer version of its object had already been applied.
        var disposition: String
        enum CodingKeys: String, CodingKey { case canonicalEventID = "canonical_event_id", position, eventType = "event_type", disposition }
    }
    var inboxID: String
    var outcome: String?
    var reason: String?
    var canonicalEvents: [Entry]
    enum CodingKeys: String, CodingKey { case inboxID = "inbox_id", outcome, reason, canonicalEvents = "canonical_events" }
}

/// Raw webhooks of one day and provider by what the normalizer made of them.
struct DeltaRow: Encodable, Sendable {
    var day: String
    var provider: String
    var received: Int
    var processed: Int
    var ignored: Int
    var superseded: Int
    var failed: Int
    /// Received but without an outcome yet.
    var pending: Int
}

/// When a provider's last webhook arrived.
struct ProviderActivity: Sendable, Equatable {
    var provider: String
    var lastEventAt: String
    var ageSeconds: Int
}

/// The normalizer's reports over its own schema; every read is tenant-scoped.
struct ReportStore: Sendable {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger

    /// The lineage of `inboxID`, or nil when the normalizer has not seen it.
    func lineage(org: TenantID, inboxID: String) async throws -> Lineage? {
        try await client.withTenantTransaction(org, logger: logger) { connection in
            var lineage = Lineage(inboxID: inboxID, outcome: nil, reason: nil, canonicalEvents: [])
            for try await (outcome, reason) in try await connection.query(
                """
                SELECT outcome, reason FROM \(unescaped: schema.name).raw_outcomes WHERE source_inbox_id = \(inboxID) ORDER BY handled_at LIMIT 1
                """, logger: logger
            ).decode((String, String?).self) {
                (lineage.outcome, lineage.reason) = (outcome, reason)
            }
            for try await (id, position, type, disposition) in try await connection.query(
                """
                SELECT canonical_event_id, position, event_type, disposition FROM \(unescaped: schema.name).lineage WHERE source_inbox_id = \(inboxID) ORDER BY position
                """, logger: logger
            ).decode((String, Int, String, String).self) {
                lineage.canonicalEvents.append(Lineage.Entry(canonicalEventID: id, position: position, eventType: type, disposition: disposition))
            }
            return lineage.outcome == nil ? nil : lineage
        }
    }

    /// Received vs normalized per day and provider over the last `days` days, newest first.
    func delta(org: TenantID, days: Int) async throws -> [DeltaRow] {
        try await client.withTenantTransaction(org, logger: logger) { connection in
            var rows: [DeltaRow] = []
            for try await row in try await connection.query(
                """
                SELECT to_char(date_trunc('day', received_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), provider,
                       count(*)::int,
                       count(*) FILTER (WHERE outcome = 'processed')::int,
                       count(*) FILTER (WHERE outcome = 'ignored')::int,
                       count(*) FILTER (WHERE outcome = 'superseded')::int,
                       count(*) FILTER (WHERE outcome = 'failed')::int
                FROM \(unescaped: schema.name).raw_outcomes
                WHERE received_at >= now() - \(days)::int * interval '1 day'
                GROUP BY 1, 2 ORDER BY 1 DESC, 2
                """, logger: logger
            ).decode((String, String, Int, Int, Int, Int, Int).self) {
                rows.append(
                    DeltaRow(
                        day: row.0, provider: row.1, received: row.2, processed: row.3, ignored: row.4, superseded: row.5,
                        failed: row.6, pending: row.2 - row.3 - row.4 - row.5 - row.6))
            }
            return rows
        }
    }

    /// Each provider's most recent webhook, by provider.
    func activity(org: TenantID) async throws -> [ProviderActivity] {
        try await client.withTenantTransaction(org, logger: logger) { connection in
            var providers: [ProviderActivity] = []
            for try await (provider, last, age) in try await connection.query(
                """
                SELECT provider, max(received_at), EXTRACT(EPOCH FROM now() - max(received_at))::int
                FROM \(unescaped: schema.name).raw_outcomes GROUP BY provider ORDER BY provider
                """, logger: logger
            ).decode((String, Date, Int).self) {
                providers.append(ProviderActivity(provider: provider, lastEventAt: RFC3339.string(last), ageSeconds: age))
            }
            return providers
        }
    }
}
