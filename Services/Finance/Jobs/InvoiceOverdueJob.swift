import Contracts
import Foundation
import Logging
import PostgresNIO
import ServiceRuntime
import Storage

/// `finance.invoices.overdue`: sets `overdue` on every issued or partly paid invoice whose due
/// date has passed, org by org, each invoice under its lock (a payment applied meanwhile wins:
/// the status is derived again from the locked row). Repeating a run changes nothing more.
struct InvoiceOverdueJob: Sendable {
    static let name = "finance.invoices.overdue"
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger

    func job(interval: Duration) -> ScheduledJob {
        ScheduledJob(name: Self.name, interval: interval) { now, org in try await run(now: now, org: org) }
    }

    func run(now: Date, org: TenantID?) async throws -> JobRunReport {
        let orgs: [TenantID]
        if let org { orgs = [org] } else { orgs = try await orgsWithDueInvoices(now: now) }
        var report = JobRunReport()
        let desk = InvoiceDesk(schema: schema, logger: logger, now: { now })
        for org in orgs {
            var changed = 0
            repeat {
                changed = try await client.withTenantTransaction(org, logger: logger) { connection in try await desk.markOverdue(on: connection, limit: 500) }
                report.processed += changed
            } while changed == 500
        }
        return report
    }

    private func orgsWithDueInvoices(now: Date) async throws -> [TenantID] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
            var orgs: [TenantID] = []
            for try await org in try await connection.query(
                "SELECT DISTINCT org_id FROM \(unescaped: schema.name).invoices WHERE status IN ('issued', 'partial') AND due_at < \(now) ORDER BY org_id",
                logger: logger
            ).decode(String.self) {
                if let tenant = TenantID(rawValue: org) { orgs.append(tenant) }
            }
            return orgs
        }
    }
}
