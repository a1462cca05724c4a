import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// One run as stored in `sync_runs`.
struct SyncRun: Equatable, Sendable {
    enum Trigger: String, Sendable { case scheduled, manual }
    var runID: String
    var trigger: Trigger
    var startedAt: Date
    var endedAt: Date
    var itemsChecked: Int
    var opened: Int
    var resolved: Int
    var errors: Int
    var requestedBy: String?
}

/// The SQL of runs, inside the caller's tenant transaction (but `dueOrgs`, which reads across orgs).
struct RunStore: Sendable {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger

    /// The items whose checks a run re-checks: every expected check that has fallen due, and
    /// with `failing` also every mismatched one (a manual run, e.g. after a tolerance changed).
    func subjectsToCheck(now: Date, failing: Bool) async throws -> Set<ItemRef> {
        let rows = try await connection.query(
            """
            SELECT DISTINCT subject FROM \(unescaped: schema.name).checks
            WHERE org_id = current_setting('tally.org_id', true)
              AND ((status = 'expected' AND expected_until <= \(now)) OR (\(failing) AND status = 'mismatched'))
            """, logger: logger)
        var subjects = Set<ItemRef>()
        for try await subject in rows.decode(String.self) { if let item = ItemRef(subject) { subjects.insert(item) } }
        return subjects
    }

    func insert(_ run: SyncRun) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).sync_runs (org_id, run_id, trigger, started_at, ended_at, items_checked, opened, resolved, errors, requested_by)
            VALUES (current_setting('tally.org_id', true), \(run.runID), \(run.trigger.rawValue), \(run.startedAt), \(run.endedAt), \(Int32(run.itemsChecked)),
                \(Int32(run.opened)), \(Int32(run.resolved)), \(Int32(run.errors)), \(run.requestedBy))
            """, logger: logger)
    }

    /// Newest first.
    func runs(limit: Int) async throws -> [SyncRun] {
        let rows = try await connection.query(
            """
            SELECT run_id, trigger, started_at, ended_at, items_checked, opened, resolved, errors, requested_by FROM \(unescaped: schema.name).sync_runs
            WHERE org_id = current_setting('tally.org_id', true) ORDER BY started_at DESC, run_id DESC LIMIT \(Int32(limit))
            """, logger: logger)
        var found: [SyncRun] = []
        for try await (id, trigger, started, ended, checked, opened, resolved, errors, by) in rows.decode(
            (String, String, Date, Date, Int32, Int32, Int32, Int32, String?).self)
        {
            guard let trigger = SyncRun.Trigger(rawValue: trigger) else { throw UnreadableRow(table: "sync_runs", key: id) }
            found.append(
                SyncRun(
                    runID: id, trigger: trigger, startedAt: started, endedAt: ended, itemsChecked: Int(checked), opened: Int(opened), resolved: Int(resolved),
                    errors: Int(errors), requestedBy: by))
        }
        return found
    }

    /// The orgs with an expected check due by `now`, read across orgs (operator scope).
    static func dueOrgs(now: Date, client: PostgresClient, schema: ServiceSchema, logger: Logger) async throws -> [TenantID] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
            var orgs: [TenantID] = []
            for try await org in try await connection.query(
                "SELECT org_id FROM \(unescaped: schema.name).org_deadlines WHERE next_due_at <= \(now) ORDER BY org_id", logger: logger
            ).decode(String.self) {
                if let tenant = TenantID(rawValue: org) { orgs.append(tenant) }
            }
            return orgs
        }
    }
}
