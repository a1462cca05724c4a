import Contracts
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage

/// Produces an export file a page at a time into `sink`, so a long period never sits in memory,
/// and hashes what it wrote: the header row, then the rows in a stable order (invoices by issue
/// time, then credit notes by creation time; payments by capture time; customers by reference).
/// Run on one `REPEATABLE READ` snapshot, every page agrees with the others.
struct AccountingExporter: Sendable {
    let schema: ServiceSchema
    let logger: Logger
    var pageSize = 500

    struct Summary: Hashable, Sendable {
        var rows: Int64
        var bytes: Int64
        var sha256: String
    }

    /// Invoice statuses to include (nil: all); credit notes go with `credited` or no filter.
    struct Filter: Hashable, Sendable {
        var statuses: [String]?
        var includesCreditNotes: Bool { statuses == nil || statuses?.contains("credited") == true }
        var invoiceStatuses: [String]? { statuses.map { $0.filter { $0 != "credited" } } }
    }

    func write(
        _ kind: ExportKind, period: ExportPeriod, filter: Filter = Filter(), on connection: PostgresConnection,
        sink: (ByteBuffer) async throws -> Void
    ) async throws -> Summary {
        let store = ExportStore(schema: schema, connection: connection, logger: logger)
        var hasher = SHA256()
        var rows: Int64 = 0
        var bytes: Int64 = 0
        func emit(_ text: String) async throws {
            let data = Array(text.utf8)
            hasher.update(data: data)
            bytes += Int64(data.count)
            try await sink(ByteBuffer(bytes: data))
        }
        try await emit(CSVFormat.header(AccountingExport.columns(kind)))
        switch kind {
        case .accounting:
            if filter.invoiceStatuses?.isEmpty != true {
                var after: (Date, String)?
                while true {
                    let page = try await store.invoices(period, statuses: filter.invoiceStatuses, after: after, limit: pageSize)
                    guard let last = page.last else { break }
                    try await emit(page.map { CSVFormat.record(AccountingExport.cells($0)) }.joined())
                    rows += Int64(page.count)
                    after = (last.invoice.issuedAt, last.invoice.id)
                    if page.count < pageSize { break }
                }
            }
            if filter.includesCreditNotes {
                var after: (Date, String)?
                while true {
                    let page = try await store.creditNotes(period, after: after, limit: pageSize)
                    guard let last = page.last else { break }
                    try await emit(page.map { CSVFormat.record(AccountingExport.cells($0)) }.joined())
                    rows += Int64(page.count)
                    after = (last.note.createdAt, last.note.id)
                    if page.count < pageSize { break }
                }
            }
        case .payments:
            var after: (Date, String, String)?
            while true {
                let page = try await store.payments(period, after: after, limit: pageSize)
                guard let last = page.last, let capturedAt = last.payment.capturedAt else { break }
                try await emit(page.map { CSVFormat.record(AccountingExport.cells($0)) }.joined())
                rows += Int64(page.count)
                after = (capturedAt, last.payment.key.provider.rawValue, last.payment.key.paymentID)
                if page.count < pageSize { break }
            }
        case .customers:
            var after: (String, String)?
            while true {
                let page = try await store.customers(period, after: after, limit: pageSize)
                guard let last = page.last else { break }
                try await emit(page.map { CSVFormat.record(AccountingExport.cells($0)) }.joined())
                rows += Int64(page.count)
                after = (last.customerRef, last.currency.rawValue)
                if page.count < pageSize { break }
            }
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return Summary(rows: rows, bytes: bytes, sha256: digest)
    }
}
