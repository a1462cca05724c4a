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
        try await connection.query("""
            INSERT INTO \(unescaped: schema.name).audit_log (org_id, actor, action, target, before, after, correlation_id)
            VALUES (\(org.rawValue), \(actor), \(action), \(target), \(beforeJSON)::jsonb, \(afterJSON)::jsonb, \(correlationID))
            """, logger: logger)
    }
}
