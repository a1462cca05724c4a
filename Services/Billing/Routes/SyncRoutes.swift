import Contracts
import Foundation
import Hummingbird
import ServiceRuntime

/// Billing sync: `POST …/billing/sync` (owner, admin, finance; audited) rebuilds the org's
/// subscriptions from their histories and reports what differed; `GET …/sync-runs` lists the
/// runs, newest first (every role).
struct SyncRoutes: Sendable {
    let queries: BillingQueries
    let sync: BillingSync

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.post("billing/sync") { _, context -> JSONAnswer<SyncRunBody> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, SubscriptionRoutes.changers, to: "running billing sync")
            return JSONAnswer(body: SyncRunBody(try await sync.run(org: try principal.tenant(), by: SubscriptionRoutes.actor(principal, context))))
        }
        admin.get("sync-runs") { request, context -> JSONAnswer<SyncRunList> in
            let org = try context.requirePrincipal().tenant()
            let before = try request.queryText("before", maxCharacters: 36).map { text throws(Problem) in
                guard let id = UUID(uuidString: text) else { throw RequestInput.invalid("before", "must be a next_cursor this API returned") }
                return id
            }
            let limit = try RequestInput.limit(request)
            let runs = try await queries.syncRuns(org: org, before: before, limit: limit)
            return JSONAnswer(
                body: SyncRunList(runs: runs.map(SyncRunBody.init), nextCursor: runs.count == limit ? runs.last.map { SubscriptionRoutes.text($0.id) } : nil))
        }
    }
}

struct SyncRunBody: Encodable, Sendable {
    var id: String
    var actor: String
    var status: String
    var startedAt: Date
    var finishedAt: Date
    var itemsProcessed: Int
    var differenceCount: Int
    var differences: [SyncDifference]
    var errors: [String]

    enum CodingKeys: String, CodingKey {
        case id, actor, status, startedAt = "started_at", finishedAt = "finished_at", itemsProcessed = "items_processed", differenceCount = "difference_count"
        case differences, errors
    }

    init(_ run: SyncRun) {
        id = SubscriptionRoutes.text(run.id)
        actor = run.actor
        status = run.status
        startedAt = run.startedAt
        finishedAt = run.finishedAt
        itemsProcessed = run.itemsProcessed
        differenceCount = run.differences.count
        differences = run.differences
        errors = run.errors
    }
}

struct SyncRunList: Encodable, Sendable {
    var runs: [SyncRunBody]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case runs, nextCursor = "next_cursor" }
}
