import Contracts
import Foundation
import PostgresNIO
import Storage

/// A refused request as operators see it: metadata only, never the body or a secret.
struct Refusal: Encodable, Sendable {
    var id: Int64
    var sourceID: String
    var reason: String
    var httpStatus: Int
    var bodySize: Int
    var bodySHA256: String?
    var remoteAddress: String?
    var receivedAt: String
    enum CodingKeys: String, CodingKey {
        case id, sourceID = "source_id", reason, httpStatus = "http_status", bodySize = "body_size", bodySHA256 = "body_sha256"
        case remoteAddress = "remote_address", receivedAt = "received_at"
    }
}

/// A repeated delivery whose body differed from the stored one.
struct Conflict: Encodable, Sendable {
    var id: Int64
    var inboxID: String
    var sourceID: String
    var providerEventID: String
    var bodySHA256: String
    var bodySize: Int
    var receivedAt: String
    enum CodingKeys: String, CodingKey {
        case id, inboxID = "inbox_id", sourceID = "source_id", providerEventID = "provider_event_id"
        case bodySHA256 = "body_sha256", bodySize = "body_size", receivedAt = "received_at"
    }
}

/// Accepted webhooks per day and provider by what became of them: the gateway's side of the
/// "raw vs normalized" delta. A row still awaiting its outcome after five minutes is unexplained.
struct InboxReport: Encodable, Sendable {
    struct Row: Encodable, Sendable {
        var day: String
        var provider: String
        var received: Int
        var awaitingOutcome: Int
        var processed: Int
        var ignored: Int
        var superseded: Int
        var failed: Int
        var unexplained: Int
        enum CodingKeys: String, CodingKey {
            case day, provider, received, awaitingOutcome = "awaiting_outcome", processed, ignored, superseded, failed, unexplained
        }
    }
    var days: [Row]
}

extension InboxQueries {
    /// The org's refused requests, newest first, with ids below `before`.
    func refusals(org: TenantID, before: Int64, limit: Int, reason: String?, sourceID: String?) async throws -> [Refusal] {
        try await client.withTenantTransaction(org, logger: logger) { connection in
            var refusals: [Refusal] = []
            let rows = try await connection.query(
                """
                SELECT id, source_id, reason, http_status, body_size, body_sha256, remote_address, \(unescaped: Self.utcText("received_at"))
                FROM \(unescaped: schema.name).refused_requests
                WHERE id < \(before) AND (\(reason)::text IS NULL OR reason = \(reason)) AND (\(sourceID)::text IS NULL OR source_id = \(sourceID))
                ORDER BY id DESC LIMIT \(limit)
                """, logger: logger)
            for try await row in rows.decode((Int64, String, String, Int, Int, String?, String?, String).self) {
                refusals.append(
                    Refusal(
                        id: row.0, sourceID: row.1, reason: row.2, httpStatus: row.3, bodySize: row.4, bodySHA256: row.5,
                        remoteAddress: row.6, receivedAt: row.7))
            }
            return refusals
        }
    }

    /// The org's webhooks of the last `days` days per day and provider, by status.
    func report(org: TenantID, days: Int) async throws -> [InboxReport.Row] {
        let awaiting = InboxStatus.awaitingOutcome.map(\.rawValue)
        return try await client.withTenantTransaction(org, logger: logger) { connection in
            var rows: [InboxReport.Row] = []
            // The org is named as well as enforced by row-level security, so its index serves the scan.
            let result = try await connection.query(
                """
                SELECT to_char(date_trunc('day', received_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), provider, count(*)::int,
                       count(*) FILTER (WHERE status = ANY(\(awaiting)::text[]))::int,
                       count(*) FILTER (WHERE status = \(InboxStatus.processed.rawValue))::int,
                       count(*) FILTER (WHERE status = \(InboxStatus.ignored.rawValue))::int,
                       count(*) FILTER (WHERE status = \(InboxStatus.superseded.rawValue))::int,
                       count(*) FILTER (WHERE status = \(InboxStatus.failed.rawValue))::int,
                       count(*) FILTER (WHERE status = ANY(\(awaiting)::text[]) AND received_at < now() - interval '5 minutes')::int
                FROM \(unescaped: schema.name).webhook_inbox
                WHERE org_id = \(org.rawValue) AND received_at >= now() - \(days)::int * interval '1 day'
                GROUP BY 1, 2 ORDER BY 1 DESC, 2
                """, logger: logger)
            for try await row in result.decode((String, String, Int, Int, Int, Int, Int, Int, Int).self) {
                rows.append(
                    InboxReport.Row(
                        day: row.0, provider: row.1, received: row.2, awaitingOutcome: row.3, processed: row.4,
                        ignored: row.5, superseded: row.6, failed: row.7, unexplained: row.8))
            }
            return rows
        }
    }

    /// The org's body conflicts, newest first (at most 1,000).
    func conflicts(org: TenantID) async throws -> [Conflict] {
        try await client.withTenantTransaction(org, logger: logger) { connection in
            var conflicts: [Conflict] = []
            let rows = try await connection.query(
                """
                SELECT id, inbox_id::text, source_id, provider_event_id, body_sha256, body_size, \(unescaped: Self.utcText("received_at"))
                FROM \(unescaped: schema.name).webhook_conflicts ORDER BY id DESC LIMIT 1000
                """, logger: logger)
            for try await row in rows.decode((Int64, String, String, String, String, Int, String).self) {
                conflicts.append(Conflict(id: row.0, inboxID: row.1, sourceID: row.2, providerEventID: row.3, bodySHA256: row.4, bodySize: row.5, receivedAt: row.6))
            }
            return conflicts
        }
    }
}
