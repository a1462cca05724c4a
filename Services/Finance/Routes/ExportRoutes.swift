import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO
import ServiceRuntime
import Storage

/// The accounting export under `/admin/orgs/{org}/exports` (owner and finance): the files of
/// `ExportKind` for a period, streamed as they are read, with the period in a header and the
/// row count and SHA-256 of the body in trailers; and the monthly exports the job stored.
struct ExportRoutes: Sendable {
    let queries: FinanceQueries
    let logger: Logger

    static let roles: Set<AdminRole> = [.owner, .finance]
    static let statuses = InvoiceStatus.allCases.map(\.rawValue) + ["credited"]

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("exports/{kind}.csv") { request, context -> Response in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, Self.roles, to: "exporting the books")
            let org = try principal.tenant()
            guard let kindText = context.parameters.get("kind"), let kind = ExportKind(rawValue: kindText) else {
                throw Problem.notFound("no such export; there are \(ExportKind.allCases.map { "\($0.rawValue).csv" }.joined(separator: ", "))")
            }
            let period = try Self.period(request)
            let statuses = try request.queryText("status", maxCharacters: 200).map { text throws(Problem) in
                let listed = text.split(separator: ",").map { String($0) }
                guard !listed.isEmpty, listed.allSatisfy(Self.statuses.contains) else {
                    throw RequestInput.invalid("status", "must be a comma-separated list of \(Self.statuses.joined(separator: ", "))")
                }
                return listed
            }
            let exporter = AccountingExporter(schema: queries.schema, logger: logger)
            let queries = self.queries
            let logger = self.logger
            let body = ResponseBody { writer in
                let summary = try await queries.inTenantSnapshot(org) { connection in
                    try await exporter.write(kind, period: period, filter: .init(statuses: statuses), on: connection) { buffer in try await writer.write(buffer) }
                }
                logger.info("export streamed", metadata: ["kind": "\(kind.rawValue)", "period": "\(period.label)", "rows": "\(summary.rows)"])
                try await writer.finish([Self.shaField: summary.sha256, Self.rowsField: "\(summary.rows)"])
            }
            return Response(status: .ok, headers: Self.headers(kind: kind, period: period, org: org), body: body)
        }
        admin.get("exports") { request, context -> StoredExportList in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, Self.roles, to: "reading the stored exports")
            let after = try request.queryText("after", maxCharacters: 100)
            if let after, !Self.isExportID(after) { throw RequestInput.invalid("after", "must be a next_cursor this API returned") }
            let limit = try RequestInput.limit(request)
            let found = try await queries.inTenant(try principal.tenant()) { connection in
                try await ExportStore(schema: queries.schema, connection: connection, logger: logger).stored(after: after, limit: limit)
            }
            return StoredExportList(exports: found.map(StoredExportBody.init), nextCursor: found.count == limit ? found.last?.id : nil)
        }
        admin.get("exports/stored/{id}.csv") { _, context -> Response in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, Self.roles, to: "downloading a stored export")
            let org = try principal.tenant()
            guard let id = context.parameters.get("id"), Self.isExportID(id) else { throw Problem.notFound("no such export in this org") }
            let queries = self.queries
            let logger = self.logger
            guard
                let stored = try await queries.inTenant(
                    org,
                    { connection in
                        try await ExportStore(schema: queries.schema, connection: connection, logger: logger).stored(id: id)
                    })
            else { throw Problem.notFound("no such export in this org") }
            var headers = Self.headers(kind: stored.kind, period: stored.period, org: org)
            headers[Self.shaField] = stored.sha256
            headers[Self.rowsField] = "\(stored.rowCount)"
            headers[.contentLength] = "\(stored.byteCount)"
            headers[HTTPField.Name("Trailer")!] = nil
            let body = ResponseBody(contentLength: Int(stored.byteCount)) { writer in
                var sequence = 0
                while true {
                    let chunks = try await queries.inTenant(org) { connection in
                        try await ExportStore(schema: queries.schema, connection: connection, logger: logger).chunks(exportID: id, after: sequence, limit: 8)
                    }
                    guard let last = chunks.last else { break }
                    for chunk in chunks { try await writer.write(chunk.bytes) }
                    sequence = last.sequence
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: headers, body: body)
        }
    }

    static let shaField = HTTPField.Name("X-Export-SHA256")!
    static let rowsField = HTTPField.Name("X-Export-Rows")!

    private static func headers(kind: ExportKind, period: ExportPeriod, org: TenantID) -> HTTPFields {
        [
            .contentType: "text/csv; charset=utf-8", .cacheControl: "private, no-store",
            .contentDisposition: "attachment; filename=\"\(kind.rawValue)-\(org.rawValue)-\(ExportPeriod.day(period.from))-\(ExportPeriod.day(period.to)).csv\"",
            HTTPField.Name("X-Export-Period")!: period.label, HTTPField.Name("Trailer")!: "X-Export-SHA256, X-Export-Rows",
        ]
    }

    /// `from` and `to` (both required): UTC days, `to` exclusive and after `from`, at most 366 days apart.
    private static func period(_ request: Request) throws -> ExportPeriod {
        func day(_ name: String) throws -> Date {
            guard let text = try request.queryText(name, maxCharacters: 10) else { throw RequestInput.invalid(name, "is required: a UTC day YYYY-MM-DD") }
            guard let date = ExportPeriod.parseDay(text) else { throw RequestInput.invalid(name, "must be a UTC day YYYY-MM-DD") }
            return date
        }
        let period = ExportPeriod(from: try day("from"), to: try day("to"))
        guard period.to > period.from else { throw RequestInput.invalid("to", "must be after from (to is exclusive)") }
        guard period.to.timeIntervalSince(period.from) <= 366 * 86_400 else { throw RequestInput.invalid("to", "must be at most 366 days after from") }
        return period
    }

    static func isExportID(_ text: String) -> Bool {
        text.hasPrefix("exp_") && text.count == 36 && text.dropFirst(4).allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}

struct StoredExportBody: Encodable, Sendable {
    var id: String
    var kind: String
    var from: String
    var to: String
    var rowCount: Int64
    var byteCount: Int64
    var sha256: String
    var createdAt: String
    var createdBy: String
    var downloadURL: String
    enum CodingKeys: String, CodingKey {
        case id, kind, from, to, rowCount = "row_count", byteCount = "byte_count", sha256, createdAt = "created_at", createdBy = "created_by"
        case downloadURL = "download_url"
    }

    init(_ stored: StoredExport) {
        id = stored.id
        kind = stored.kind.rawValue
        from = ExportPeriod.day(stored.period.from)
        to = ExportPeriod.day(stored.period.to)
        rowCount = stored.rowCount
        byteCount = stored.byteCount
        sha256 = stored.sha256
        createdAt = RFC3339.string(stored.createdAt)
        createdBy = stored.createdBy
        downloadURL = "exports/stored/\(stored.id).csv"
    }
}

struct StoredExportList: Encodable, ResponseEncodable, Sendable {
    var exports: [StoredExportBody]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case exports, nextCursor = "next_cursor" }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(exports, forKey: .exports)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}
