import Contracts
import Foundation
import Hummingbird
import Logging
import ServiceRuntime
import Storage

/// Admin routes under `/admin/orgs/{org}`: `POST runs` (a manual run: re-check every due and
/// failing item now; owner, admin or finance; audited) and `GET runs` (the latest runs, newest
/// first; every role).
struct RunRoutes: Sendable {
    let job: ReconciliationRunJob
    let audit: AuditLog
    let logger: Logger
    let now: @Sendable () -> Date

    struct RunBody: Codable, ResponseEncodable {
        var runID: String
        var trigger: String
        var startedAt: String
        var endedAt: String
        var itemsChecked: Int
        var opened: Int
        var resolved: Int
        var errors: Int
        var requestedBy: String?

        enum CodingKeys: String, CodingKey {
            case runID = "run_id", trigger, startedAt = "started_at", endedAt = "ended_at", itemsChecked = "items_checked", opened, resolved, errors
            case requestedBy = "requested_by"
        }

        init(_ run: SyncRun) {
            self.runID = run.runID
            self.trigger = run.trigger.rawValue
            self.startedAt = RFC3339.string(run.startedAt)
            self.endedAt = RFC3339.string(run.endedAt)
            self.itemsChecked = run.itemsChecked
            self.opened = run.opened
            self.resolved = run.resolved
            self.errors = run.errors
            self.requestedBy = run.requestedBy
        }
    }

    struct RunList: Encodable, ResponseEncodable { var runs: [RunBody] }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.post("runs") { _, context -> EditedResponse<RunBody> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .finance], to: "starting a reconciliation run")
            let org = try principal.tenant()
            let correlationID = context.correlationID ?? "admin"
            let run = try await job.client.withTenantTransaction(org, logger: logger) { connection in
                let run = try await job.run(org: org, trigger: .manual, requestedBy: principal.subject, correlationID: correlationID, now: now(), on: connection)
                try await audit.record(
                    org: org, actor: principal.subject, action: "run.start", target: "run:\(run.runID)", before: RunBody?.none, after: RunBody(run),
                    correlationID: context.correlationID, on: connection, logger: logger)
                return run
            }
            return EditedResponse(status: .created, response: RunBody(run))
        }
        admin.get("runs") { request, context -> RunList in
            let org = try context.requirePrincipal().tenant()
            let limit = try RequestInput.limit(request)
            let runs = try await job.client.withTenantTransaction(org, logger: logger) { connection in
                try await RunStore(schema: job.schema, connection: connection, logger: logger).runs(limit: limit)
            }
            return RunList(runs: runs.map(RunBody.init))
        }
    }
}
