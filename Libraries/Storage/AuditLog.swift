import Contracts
import Foundation
import Logging
import PostgresNIO

/// Records changes made by people (pause, reconcile, replay, erasure…) in the service's own
/// `audit_log` table. The row is written in the caller's tenant transaction, so it commits with
/// the change it describes and is visible only to the same org.
public struct AuditLog: Sendable {
    public let schema: ServiceSchema
    public init(schema: ServiceSchema) { self.schema = schema }

    /// One audit entry. `before` and `after` are JSON-encodable snapshots (nil when absent).
    public func record<Before: Encodable, After: Encodable>(
        org: TenantID, actor: String, action: String, target: String,
        before: Before?, after: After?, correlationID: String?,
        on connection: PostgresConnection, logger: Logger
    ) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let beforeJSON = try before.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        let afterJSON = try after.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).audit_log (org_id, actor, action, target, before, after, correlation_id)
            VALUES (\(org.rawValue), \(actor), \(action), \(target), \(beforeJSON)::jsonb, \(afterJSON)::jsonb, \(correlationID))
            """, logger: logger)
    }
}

/// One audit entry as written: who did what to which target, the snapshots as JSON text, and
/// the request it came from.
public struct AuditEntry: Codable, Sendable, Equatable {
    public var id: Int64
    public var actor: String
    public var action: String
    public var target: String
    public var before: String?
    public var after: String?
    public var correlationID: String?
    /// RFC 3339 UTC with milliseconds.
    public var recordedAt: String

    enum CodingKeys: String, CodingKey {
        case id, actor, action, target, before, after, correlationID = "correlation_id", recordedAt = "recorded_at"
    }
}

extension AuditLog {
    /// The org's entries with ids below `before`, newest first, at most `limit`.
    public func entries(org: TenantID, before: Int64, limit: Int, client: PostgresClient, logger: Logger) async throws -> [AuditEntry] {
        try await client.withTenantTransaction(org, logger: logger) { connection in
            var entries: [AuditEntry] = []
            let rows = try await connection.query(
                """
                SELECT id, actor, action, target, before::text, after::text, correlation_id, recorded_at
                FROM \(unescaped: schema.name).audit_log WHERE id < \(before) ORDER BY id DESC LIMIT \(limit)
                """, logger: logger)
            for try await (id, actor, action, target, beforeJSON, afterJSON, correlation, recordedAt) in rows.decode(
                (Int64, String, String, String, String?, String?, String?, Date).self)
            {
                entries.append(
                    AuditEntry(
                        id: id, actor: actor, action: action, target: target, before: beforeJSON, after: afterJSON,
                        correlationID: correlation, recordedAt: RFC3339.string(recordedAt)))
            }
            return entries
        }
    }
}
