import Contracts
import Foundation
import Logging
import PostgresNIO
import ServiceRuntime
import Storage

/// `finance.exports.monthly`: stores each org's accounting, payments and customers files for the
/// previous calendar month (UTC), once: the export row is unique per org, kind and period, and
/// its chunks, row count and SHA-256 commit in the transaction that created it, so a run cut
/// short leaves nothing and the next run makes it whole. Listed by `GET exports`.
struct MonthlyExportJob: Sendable {
    static let name = "finance.exports.monthly"
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger

    func job(interval: Duration) -> ScheduledJob {
        ScheduledJob(name: Self.name, interval: interval) { now, org in try await run(now: now, org: org) }
    }

    func run(now: Date, org: TenantID?) async throws -> JobRunReport {
        let period = ExportPeriod.previousMonth(of: now)
        let orgs: [TenantID]
        if let org { orgs = [org] } else { orgs = try await ExportStore.orgs(in: period, client: client, schema: schema, logger: logger) }
        var report = JobRunReport()
        let exporter = AccountingExporter(schema: schema, logger: logger)
        for org in orgs {
            for kind in ExportKind.allCases {
                let made = try await client.withTransaction(logger: logger) { connection in
                    try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: logger)
                    try await connection.setTenant(org, logger: logger)
                    let store = ExportStore(schema: schema, connection: connection, logger: logger)
                    let id = "exp_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
                    guard try await store.begin(id: id, kind: kind, period: period, by: Self.name, at: LedgerSeal.truncated(now)) else { return false }
                    var sequence = 0
                    let summary = try await exporter.write(kind, period: period, on: connection) { buffer in
                        sequence += 1
                        try await store.append(exportID: id, sequence: sequence, bytes: Array(buffer.readableBytesView))
                    }
                    try await store.complete(exportID: id, rows: summary.rows, bytes: summary.bytes, sha256: summary.sha256)
                    return true
                }
                if made { report.processed += 1 }
            }
        }
        return report
    }
}
