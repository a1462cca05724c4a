import Foundation
import Hummingbird
import PostgresNIO
import ServiceRuntime
import Storage

/// Admin routes over the webhook inbox, under `/admin/orgs/{org}`:
/// `GET inbox`, `GET inbox/{id}`, `POST inbox/replay`, `GET refused`, `GET conflicts`.
struct InboxRoutes: Sendable {
    let queries: InboxQueries
    let audit: AuditLog

    struct Page: Encodable, ResponseEncodable {
        var entries: [InboxEntry]
        var nextCursor: String?
        enum CodingKeys: String, CodingKey { case entries, nextCursor = "next_cursor" }
    }

    struct ReplayRequest: Decodable {
        var filter: InboxFilter
        /// False (the default) only reports what would be replayed.
        var execute: Bool?
    }

    struct ReplayResult: Encodable, ResponseEncodable {
        var dryRun: Bool
        var replayID: String?
        var count: Int
        var ids: [String]
        enum CodingKeys: String, CodingKey { case dryRun = "dry_run", replayID = "replay_id", count, ids }
    }

    struct Refusal: Encodable {
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

    struct RefusalPage: Encodable, ResponseEncodable {
        var refusals: [Refusal]
        var nextCursor: Int64?
        enum CodingKeys: String, CodingKey { case refusals, nextCursor = "next_cursor" }
    }

    struct Conflict: Encodable {
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

    struct ConflictList: Encodable, ResponseEncodable { var conflicts: [Conflict] }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("inbox") { request, context -> Page in
            let principal = try context.requirePrincipal()
            let parameters = request.uri.queryParameters
            let filter = try validated(InboxFilter(
                status: parameters.get("status"), provider: parameters.get("provider"), eventType: parameters.get("event_type"),
                sourceID: parameters.get("source_id"), from: parameters.get("from"), to: parameters.get("to"), ids: nil
            ))
            var cursor: InboxCursor?
            if let token = parameters.get("cursor") {
                guard let parsed = InboxCursor(token: token) else { throw Problem.badRequest("cursor is not one this API returned") }
                cursor = parsed
            }
            let limit = min(max(parameters.get("limit", as: Int.self) ?? 100, 1), 1000)
            let (entries, next) = try await queries.list(org: try principal.tenant(), filter: filter, cursor: cursor, limit: limit)
            return Page(entries: entries, nextCursor: next?.token)
        }
        admin.get("inbox/:inboxID") { _, context -> InboxEntry in
            let principal = try context.requirePrincipal()
            let id = context.parameters.get("inboxID") ?? ""
            // The raw body may hold personal data: owner and admin only.
            let withBody = principal.role == .owner || principal.role == .admin
            guard let entry = try await queries.entry(org: try principal.tenant(), id: id, withBody: withBody) else {
                throw Problem.notFound("no inbox entry \(id) in this org")
            }
            return entry
        }
        admin.post("inbox/replay") { request, context -> ReplayResult in
            let principal = try context.requirePrincipal()
            let input = try await request.decode(as: ReplayRequest.self, context: context)
            let execute = input.execute ?? false
            if execute, principal.role != .owner, principal.role != .admin {
                throw Problem.forbidden("replaying webhooks needs the owner or admin role")
            }
            let filter = try validated(input.filter)
            do {
                let result = try await queries.replay(org: try principal.tenant(), filter: filter, execute: execute, actor: principal.subject, audit: audit)
                return ReplayResult(dryRun: !execute, replayID: result.replayID, count: result.count, ids: result.ids)
            } catch let stopped as ReplayInterrupted {
                throw Problem(type: "replay-interrupted", title: "Replay interrupted", status: .serviceUnavailable, detail: stopped.description,
                              extensions: ["replay_id": stopped.replayID, "replayed": "\(stopped.replayed)", "matched": "\(stopped.matched)"])
            }
        }
        admin.get("refused") { request, context -> RefusalPage in
            let principal = try context.requirePrincipal()
            let parameters = request.uri.queryParameters
            let before = parameters.get("cursor", as: Int64.self) ?? Int64.max
            let limit = min(max(parameters.get("limit", as: Int.self) ?? 100, 1), 1000)
            let reason = parameters.get("reason")
            let sourceID = parameters.get("source_id")
            let schema = queries.schema.name
            let refusals = try await queries.client.withTenantTransaction(try principal.tenant(), logger: context.logger) { connection in
                var refusals: [Refusal] = []
                let rows = try await connection.query("""
                    SELECT id, source_id, reason, http_status, body_size, body_sha256, remote_address,
                           to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                    FROM \(unescaped: schema).refused_requests
                    WHERE id < \(before) AND (\(reason)::text IS NULL OR reason = \(reason)) AND (\(sourceID)::text IS NULL OR source_id = \(sourceID))
                    ORDER BY id DESC LIMIT \(limit)
                    """, logger: context.logger)
                for try await row in rows.decode((Int64, String, String, Int, Int, String?, String?, String).self) {
                    refusals.append(Refusal(id: row.0, sourceID: row.1, reason: row.2, httpStatus: row.3, bodySize: row.4, bodySHA256: row.5, remoteAddress: row.6, receivedAt: row.7))
                }
                return refusals
            }
            return RefusalPage(refusals: refusals, nextCursor: refusals.count == limit ? refusals.last?.id : nil)
        }
        admin.get("inbox/report") { request, context -> InboxReport in
            let principal = try context.requirePrincipal()
            let days = min(max(request.uri.queryParameters.get("days", as: Int.self) ?? 7, 1), 90)
            let schema = queries.schema.name
            let org = try principal.tenant()
            let rows = try await queries.client.withTenantTransaction(org, logger: context.logger) { connection in
                var rows: [InboxReport.Row] = []
                // The org is named as well as enforced by row-level security, so its index serves the scan.
                let result = try await connection.query("""
                    SELECT to_char(date_trunc('day', received_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), provider, count(*)::int,
                           count(*) FILTER (WHERE status IN ('pending', 'published'))::int,
                           count(*) FILTER (WHERE status = 'processed')::int, count(*) FILTER (WHERE status = 'ignored')::int,
                           count(*) FILTER (WHERE status = 'superseded')::int, count(*) FILTER (WHERE status = 'failed')::int,
                           count(*) FILTER (WHERE status IN ('pending', 'published') AND received_at < now() - interval '5 minutes')::int
                    FROM \(unescaped: schema).webhook_inbox
                    WHERE org_id = \(org.rawValue) AND received_at >= now() - \(days)::int * interval '1 day'
                    GROUP BY 1, 2 ORDER BY 1 DESC, 2
                    """, logger: context.logger)
                for try await row in result.decode((String, String, Int, Int, Int, Int, Int, Int, Int).self) {
                    rows.append(InboxReport.Row(day: row.0, provider: row.1, received: row.2, awaitingOutcome: row.3, processed: row.4,
                                                ignored: row.5, superseded: row.6, failed: row.7, unexplained: row.8))
                }
                return rows
            }
            return InboxReport(days: rows)
        }
        admin.get("conflicts") { _, context -> ConflictList in
            let principal = try context.requirePrincipal()
            let schema = queries.schema.name
            let conflicts = try await queries.client.withTenantTransaction(try principal.tenant(), logger: context.logger) { connection in
                var conflicts: [Conflict] = []
                let rows = try await connection.query("""
                    SELECT id, inbox_id::text, source_id, provider_event_id, body_sha256, body_size,
                           to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                    FROM \(unescaped: schema).webhook_conflicts ORDER BY id DESC LIMIT 1000
                    """, logger: context.logger)
                for try await row in rows.decode((Int64, String, String, String, String, Int, String).self) {
                    conflicts.append(Conflict(id: row.0, inboxID: row.1, sourceID: row.2, providerEventID: row.3, bodySHA256: row.4, bodySize: row.5, receivedAt: row.6))
                }
                return conflicts
            }
            return ConflictList(conflicts: conflicts)
        }
    }

    private func validated(_ filter: InboxFilter) throws -> InboxFilter {
        do { return try filter.validate() } catch { throw Problem.badRequest("\(error)") }
    }

}

/// Accepted webhooks per day and provider by what became of them: the gateway's side of the
/// "raw vs normalized" delta. A row still awaiting its outcome after five minutes is unexplained.
struct InboxReport: Encodable, ResponseEncodable {
    struct Row: Encodable {
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
