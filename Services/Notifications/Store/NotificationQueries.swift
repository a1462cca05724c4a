import Contracts
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceRuntime
import Storage

/// What the admin routes read and change, each call in its own tenant transaction.
struct NotificationQueries: Sendable {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger
    let secrets: SecretBox

    private var name: String { schema.name }

    func inTenant<T: Sendable>(_ org: TenantID, _ body: (NotificationsStore, PostgresConnection) async throws -> T) async throws -> T {
        try await client.withTenantTransaction(org, logger: logger) { connection in
            try await body(NotificationsStore(schema: schema, connection: connection, logger: logger, secrets: secrets), connection)
        }
    }

    /// A page of deliveries, newest first; `after` is the last (created_at, id) of the previous page.
    func deliveries(
        org: TenantID, status: DeliveryStatus?, channel: NotificationChannel?, after: (Date, UUID)?, limit: Int
    ) async throws -> [DeliveryRecord] {
        try await inTenant(org) { _, connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: NotificationsStore.deliveryColumns) FROM \(unescaped: name).deliveries
                 WHERE org_id = \(org.rawValue)
                   AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue))
                   AND (\(channel?.rawValue)::text IS NULL OR channel = \(channel?.rawValue))
                   AND (\(after?.0)::timestamptz IS NULL OR (created_at, id) < (\(after?.0), \(after?.1)))
                 ORDER BY created_at DESC, id DESC
                 LIMIT \(limit)
                """, logger: logger)
            var records: [DeliveryRecord] = []
            for try await row in rows { records.append(try NotificationsStore.decodeDelivery(row)) }
            return records
        }
    }

    func delivery(org: TenantID, id: UUID) async throws -> (DeliveryRecord, [AttemptRecord])? {
        try await inTenant(org) { store, _ in
            guard let record = try await store.delivery(org: org, id: id) else { return nil }
            return (record, try await store.attempts(org: org, delivery: id))
        }
    }

    /// Dead deliveries a bulk replay would take, oldest first, with how many there are per reason.
    func deadDeliveries(org: TenantID, channel: NotificationChannel?, templateKey: String?, limit: Int) async throws -> [DeliveryRecord] {
        try await inTenant(org) { _, connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: NotificationsStore.deliveryColumns) FROM \(unescaped: name).deliveries
                 WHERE org_id = \(org.rawValue) AND status = 'dead'
                   AND (\(channel?.rawValue)::text IS NULL OR channel = \(channel?.rawValue))
                   AND (\(templateKey)::text IS NULL OR template_key = \(templateKey))
                 ORDER BY created_at, id
                 LIMIT \(limit)
                """, logger: logger)
            var records: [DeliveryRecord] = []
            for try await row in rows { records.append(try NotificationsStore.decodeDelivery(row)) }
            return records
        }
    }

    /// When the org's last bulk replay ran (from the audit log), for the rate limit.
    func lastBulkReplay(org: TenantID, connection: PostgresConnection) async throws -> Date? {
        let rows = try await connection.query(
            "SELECT max(recorded_at) FROM \(unescaped: name).audit_log WHERE org_id = \(org.rawValue) AND action = 'deliveries.bulk_replay'", logger: logger)
        for try await time in rows.decode(Date?.self) { return time }
        return nil
    }

    // MARK: Webhook endpoints

    struct EndpointRow: Sendable, Equatable, Codable, ResponseEncodable {
        var id: String
        var url: String
        var description: String?
        var status: String
        var disabledReason: String?
        var createdAt: Date
        var updatedAt: Date

        enum CodingKeys: String, CodingKey {
            case id, url, description, status, disabledReason = "disabled_reason", createdAt = "created_at", updatedAt = "updated_at"
        }
    }

    func insertEndpoint(org: TenantID, id: String, url: String, secret: String, description: String?, now: Date, connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: name).webhook_endpoints (org_id, id, url, secret_sealed, description, status, created_at, updated_at)
            VALUES (\(org.rawValue), \(id), \(url), \(PostgresBytes(try secrets.seal(secret))), \(description), 'active', \(now), \(now))
            """, logger: logger)
    }

    func endpoints(org: TenantID, connection: PostgresConnection, id: String? = nil) async throws -> [EndpointRow] {
        let rows = try await connection.query(
            """
            SELECT id, url, description, status, disabled_reason, created_at, updated_at FROM \(unescaped: name).webhook_endpoints
             WHERE org_id = \(org.rawValue) AND (\(id)::text IS NULL OR id = \(id)) ORDER BY created_at, id
            """, logger: logger)
        var result: [EndpointRow] = []
        for try await (id, url, description, status, reason, created, updated) in rows.decode((String, String, String?, String, String?, Date, Date).self) {
            result.append(EndpointRow(id: id, url: url, description: description, status: status, disabledReason: reason, createdAt: created, updatedAt: updated))
        }
        return result
    }

    func setEndpointStatus(org: TenantID, id: String, active: Bool, reason: String?, now: Date, connection: PostgresConnection) async throws {
        try await connection.query(
            """
            UPDATE \(unescaped: name).webhook_endpoints SET status = \(active ? "active" : "disabled"), disabled_reason = \(active ? nil : reason), updated_at = \(now)
             WHERE org_id = \(org.rawValue) AND id = \(id)
            """, logger: logger)
    }
}
