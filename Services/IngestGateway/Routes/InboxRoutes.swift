import Foundation
import Hummingbird
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

    struct RefusalPage: Encodable, ResponseEncodable {
        var refusals: [Refusal]
        var nextCursor: Int64?
        enum CodingKeys: String, CodingKey { case refusals, nextCursor = "next_cursor" }
    }

    struct ConflictList: Encodable, ResponseEncodable { var conflicts: [Conflict] }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("inbox") { request, context -> Page in
            let principal = try context.requirePrincipal()
            let parameters = request.uri.queryParameters
            let filter = try validated(
                InboxFilter(
                    status: parameters.get("status"), provider: parameters.get("provider"), eventType: parameters.get("event_type"),
                    sourceID: parameters.get("source_id"), from: parameters.get("from"), to: parameters.get("to"), ids: nil
                ))
            var cursor: InboxCursor?
            if let token = parameters.get("cursor"), !token.isEmpty {
                guard let parsed = InboxCursor(token: token) else { throw Problem.badRequest("cursor is not one this API returned") }
                cursor = parsed
            }
            let limit = try request.queryInteger("limit", default: 100, range: 1...1000)
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
                throw Problem(
                    type: "replay-interrupted", title: "Replay interrupted", status: .serviceUnavailable, detail: stopped.description,
                    extensions: ["replay_id": stopped.replayID, "replayed": "\(stopped.replayed)", "matched": "\(stopped.matched)"])
            }
        }
        admin.get("refused") { request, context -> RefusalPage in
            let principal = try context.requirePrincipal()
            let parameters = request.uri.queryParameters
            let before = try request.queryInteger("cursor", default: Int64.max, range: 1...Int64.max)
            let limit = try request.queryInteger("limit", default: 100, range: 1...1000)
            let refusals = try await queries.refusals(
                org: try principal.tenant(), before: before, limit: limit,
                reason: try request.queryText("reason"), sourceID: try request.queryText("source_id"))
            return RefusalPage(refusals: refusals, nextCursor: refusals.count == limit ? refusals.last?.id : nil)
        }
        admin.get("inbox/report") { request, context -> InboxReport in
            let principal = try context.requirePrincipal()
            let days = try request.queryInteger("days", default: 7, range: 1...90)
            let rows = try await queries.report(org: try principal.tenant(), days: days)
            return InboxReport(days: rows)
        }
        admin.get("conflicts") { _, context -> ConflictList in
            let principal = try context.requirePrincipal()
            let conflicts = try await queries.conflicts(org: try principal.tenant())
            return ConflictList(conflicts: conflicts)
        }
    }

    private func validated(_ filter: InboxFilter) throws -> InboxFilter {
        do { return try filter.validate() } catch { throw RequestInput.invalid(error.field, error.rule) }
    }

}

extension InboxReport: ResponseEncodable {}

extension InboxEntry: ResponseEncodable {}
