import Foundation
import Hummingbird
import Storage

/// `GET /admin/orgs/{org}/audit-log`: the org's audit entries in this service, newest first.
/// Every service serves it; rows come from the service's own `audit_log` under tenant isolation.
enum AuditRoutes {
    struct Page: Codable, ResponseEncodable {
        var entries: [AuditEntry]
        /// Pass as `?before=` to read the next page; nil on the last page.
        var nextCursor: Int64?
        enum CodingKeys: String, CodingKey { case entries, nextCursor = "next_cursor" }
    }

    static func add(to admin: RouterGroup<ServiceRequestContext>, dependencies: ServiceDependencies) {
        admin.get("audit-log") { request, context -> Page in
            let tenant = try context.requirePrincipal().tenant()
            let limit = try request.queryInteger("limit", default: 50, range: 1...500)
            let before = try request.queryInteger("before", default: Int64.max, range: 1...Int64.max)
            let entries = try await dependencies.audit.entries(org: tenant, before: before, limit: limit, client: dependencies.client, logger: context.logger)
            return Page(entries: entries, nextCursor: entries.count == limit ? entries.last?.id : nil)
        }
    }
}
