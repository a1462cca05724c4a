import Foundation
import Hummingbird
import PostgresNIO
import Storage

/// `GET /admin/orgs/{org}/audit-log`: the org's audit entries in this service, newest first.
/// Every service serves it; rows come from the service's own `audit_log` under tenant isolation.
enum AuditRoutes {
    struct Entry: Codable, ResponseEncodable {
        var id: Int64
        var actor: String
        var action: String
        var target: String
        var before: String?
        var after: String?
        var correlationID: String?
        var recordedAt: String

        enum CodingKeys: String, CodingKey {
            case id, actor, action, target, before, after, correlationID = "correlation_id", recordedAt = "recorded_at"
        }
    }

    struct Page: Codable, ResponseEncodable {
        var entries: [Entry]
        /// Pass as `?before=` to read the next page; nil on the last page.
        var nextCursor: Int64?
        enum CodingKeys: String, CodingKey { case entries, nextCursor = "next_cursor" }
    }

    static func add(to admin: RouterGroup<ServiceRequestContext>, dependencies: ServiceDependencies) {
        admin.get("audit-log") { request, context -> Page in
            let tenant = try context.requirePrincipal().tenant()
            let limit = min(max(request.uri.queryParameters.get("limit", as: Int.self) ?? 50, 1), 500)
            let before = request.uri.queryParameters.get("before", as: Int64.self) ?? Int64.max
            let schema = dependencies.schema.name
            let entries = try await dependencies.client.withTenantTransaction(tenant, logger: context.logger) { connection in
                var entries: [Entry] = []
                let rows = try await connection.query("""
                    SELECT id, actor, action, target, before::text, after::text, correlation_id,
                           to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                    FROM \(unescaped: schema).audit_log WHERE id < \(before) ORDER BY id DESC LIMIT \(limit)
                    """, logger: context.logger)
                for try await (id, actor, action, target, beforeJSON, afterJSON, correlation, recordedAt) in rows.decode((Int64, String, String, String, String?, String?, String?, String).self) {
                    entries.append(Entry(id: id, actor: actor, action: action, target: target, before: beforeJSON, after: afterJSON, correlationID: correlation, recordedAt: recordedAt))
                }
                return entries
            }
            return Page(entries: entries, nextCursor: entries.count == limit ? entries.last?.id : nil)
        }
    }
}
