import Contracts
import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceRuntime
import Storage

/// Every SQL statement of the notifications service that runs on one connection inside a
/// tenant transaction (the inbox's, the worker's or a route's): the caller set the org with
/// `setTenant`, and row-level security keeps every statement inside it.
struct NotificationsStore: Sendable {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger
    /// Opens endpoint signing secrets.
    let secrets: SecretBox

    private var name: String { schema.name }

    // MARK: Contacts

    /// Keeps the newest contact details of a customer: an upsert older than the stored one
    /// (by provider time) changes nothing. Returns whether it changed the row.
    @discardableResult
    func upsertContact(org: TenantID, _ contact: Contact, sourceTime: Date, now: Date) async throws -> Bool {
        let rows = try await connection.query(
            """
            INSERT INTO \(unescaped: name).contacts (org_id, provider, customer_id, email, phone, name, locale, source_time, updated_at)
            VALUES (\(org.rawValue), \(contact.customer.provider.rawValue), \(contact.customer.customerID), \(contact.email), \(contact.phone),
                    \(contact.name), \(contact.locale), \(sourceTime), \(now))
            ON CONFLICT (org_id, provider, customer_id) DO UPDATE
               SET email = excluded.email, phone = excluded.phone, name = excluded.name, locale = excluded.locale,
                   source_time = excluded.source_time, updated_at = excluded.updated_at
             WHERE contacts.source_time <= excluded.source_time
            RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    func contact(org: TenantID, _ customer: CustomerReference) async throws -> Contact? {
        let rows = try await connection.query(
            """
            SELECT email, phone, name, locale FROM \(unescaped: name).contacts
             WHERE org_id = \(org.rawValue) AND provider = \(customer.provider.rawValue) AND customer_id = \(customer.customerID)
            """, logger: logger)
        for try await (email, phone, contactName, locale) in rows.decode((String?, String?, String?, String?).self) {
            return Contact(customer: customer, email: email, phone: phone, name: contactName, locale: locale)
        }
        return nil
    }

    /// Deliveries waiting for this customer's details become due now.
    func wakeDeliveries(org: TenantID, for customer: CustomerReference, now: Date) async throws {
        try await connection.query(
            """
            UPDATE \(unescaped: name).deliveries SET next_attempt_at = \(now), updated_at = \(now)
             WHERE org_id = \(org.rawValue) AND status IN ('scheduled', 'retrying') AND last_reason = 'awaiting_contact'
               AND recipient -> 'customer' ->> 'provider' = \(customer.provider.rawValue)
               AND recipient -> 'customer' ->> 'customer_id' = \(customer.customerID)
            """, logger: logger)
    }

    /// What erasing a customer's contact details changed.
    struct Erasure: Sendable, Equatable, Codable {
        var contacts: Int
        /// Deliveries whose variables were emptied (they may hold the customer's name or amounts).
        var deliveriesRedacted: Int
        /// Deliveries still waiting that can no longer be sent: now undeliverable (`recipient_erased`).
        var deliveriesStopped: Int
        var offlineMessagesDeleted: Int

        enum CodingKeys: String, CodingKey {
            case contacts, deliveriesRedacted = "deliveries_redacted", deliveriesStopped = "deliveries_stopped"
            case offlineMessagesDeleted = "offline_messages_deleted"
        }
    }

    /// Erases what this service holds about `customer`: the contact row is deleted, the variables
    /// of the customer's deliveries are emptied (statuses, counts and attempts stay), deliveries
    /// still waiting end `undeliverable` (`recipient_erased`), and stored offline messages are
    /// deleted. A later `customer.upserted` for the customer is a new contact.
    func eraseCustomer(org: TenantID, _ customer: CustomerReference, now: Date) async throws -> Erasure {
        let rows = try await connection.query(
            """
            WITH contact AS (
                DELETE FROM \(unescaped: name).contacts
                 WHERE org_id = \(org.rawValue) AND provider = \(customer.provider.rawValue) AND customer_id = \(customer.customerID)
                RETURNING 1
            ), theirs AS (
                SELECT id, status FROM \(unescaped: name).deliveries
                 WHERE org_id = \(org.rawValue) AND recipient -> 'customer' ->> 'provider' = \(customer.provider.rawValue)
                   AND recipient -> 'customer' ->> 'customer_id' = \(customer.customerID)
                 FOR UPDATE
            ), redacted AS (
                UPDATE \(unescaped: name).deliveries d
                   SET variables = '{}'::jsonb, updated_at = \(now),
                       status = CASE WHEN d.status IN ('scheduled', 'retrying') THEN 'undeliverable' ELSE d.status END,
                       last_reason = CASE WHEN d.status IN ('scheduled', 'retrying') THEN 'recipient_erased' ELSE d.last_reason END,
                       finished_at = CASE WHEN d.status IN ('scheduled', 'retrying') THEN \(now) ELSE d.finished_at END
                  FROM theirs WHERE d.org_id = \(org.rawValue) AND d.id = theirs.id
                RETURNING theirs.status AS previous
            ), offline AS (
                DELETE FROM \(unescaped: name).offline_messages o USING theirs
                 WHERE o.org_id = \(org.rawValue) AND o.delivery_id = theirs.id
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM contact)::int, (SELECT count(*) FROM redacted)::int,
                   (SELECT count(*) FROM redacted WHERE previous IN ('scheduled', 'retrying'))::int, (SELECT count(*) FROM offline)::int
            """, logger: logger)
        for try await (contacts, redacted, stopped, offline) in rows.decode((Int, Int, Int, Int).self) {
            return Erasure(contacts: contacts, deliveriesRedacted: redacted, deliveriesStopped: stopped, offlineMessagesDeleted: offline)
        }
        return Erasure(contacts: 0, deliveriesRedacted: 0, deliveriesStopped: 0, offlineMessagesDeleted: 0)
    }

    // MARK: Deliveries

    /// Creates the delivery of a request unless one exists for its (org, dedupe key); returns
    /// whether it was created.
    func createDelivery(_ record: DeliveryRecord) async throws -> Bool {
        let recipient = String(decoding: try CanonicalJSON.encode(record.recipient), as: UTF8.self)
        let variables = String(decoding: try CanonicalJSON.encode(record.variables), as: UTF8.self)
        let rows = try await connection.query(
            """
            INSERT INTO \(unescaped: name).deliveries
                (org_id, id, dedupe_key, template_key, channels, recipient, locale, variables, not_before, cause_type, cause_event_id,
                 correlation_id, status, next_attempt_at, last_reason, last_detail, finished_at, created_at, updated_at)
            VALUES (\(record.org.rawValue), \(record.state.id), \(record.dedupeKey), \(record.templateKey), \(record.channels.map(\.rawValue)),
                    \(recipient)::jsonb, \(record.locale), \(variables)::jsonb, \(record.notBefore), \(record.causeType), \(record.causeEventID),
                    \(record.correlationID), \(record.state.status.rawValue), \(record.state.nextAttemptAt), \(record.state.lastReason),
                    \(record.state.lastDetail), \(record.state.finishedAt), \(record.createdAt), \(record.updatedAt))
            ON CONFLICT (org_id, dedupe_key) DO NOTHING
            RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    static let deliveryColumns = """
        org_id, id, status, attempts, round, round_attempts, next_attempt_at, channel, provider, offline, last_reason, last_detail, finished_at,
        dedupe_key, template_key, channels, recipient::text, locale, variables::text, not_before, cause_type, cause_event_id, correlation_id,
        lease_until, created_at, updated_at
        """

    /// Decodes a row selected with `deliveryColumns`.
    static func decodeDelivery(_ row: PostgresRow) throws -> DeliveryRecord {
        let r = row.makeRandomAccess()
        let org = try r[0].decode(String.self)
        guard let tenant = TenantID(rawValue: org) else { throw StorageError.missingTenant }
        let channel = try r[7].decode(String?.self)
        let state = DeliveryState(
            id: try r[1].decode(UUID.self), status: DeliveryStatus(rawValue: try r[2].decode(String.self)) ?? .dead, attempts: try r[3].decode(Int.self),
            round: try r[4].decode(Int.self), roundAttempts: try r[5].decode(Int.self), nextAttemptAt: try r[6].decode(Date.self),
            channel: channel.flatMap(NotificationChannel.init(rawValue:)), provider: try r[8].decode(String?.self), offline: try r[9].decode(Bool.self),
            lastReason: try r[10].decode(String?.self), lastDetail: try r[11].decode(String?.self), finishedAt: try r[12].decode(Date?.self))
        let recipient = try CanonicalJSON.decode(NotificationRecipient.self, from: Array(try r[16].decode(String.self).utf8))
        let variables = try CanonicalJSON.decode([String: String].self, from: Array(try r[18].decode(String.self).utf8))
        return DeliveryRecord(
            org: tenant, state: state, dedupeKey: try r[13].decode(String.self), templateKey: try r[14].decode(String.self),
            channels: try r[15].decode([String].self).compactMap(NotificationChannel.init(rawValue:)), recipient: recipient,
            locale: try r[17].decode(String?.self), variables: variables, notBefore: try r[19].decode(Date?.self), causeType: try r[20].decode(String.self),
            causeEventID: try r[21].decode(String.self), correlationID: try r[22].decode(String.self), leaseUntil: try r[23].decode(Date?.self),
            createdAt: try r[24].decode(Date.self), updatedAt: try r[25].decode(Date.self))
    }

    func delivery(org: TenantID, id: UUID, forUpdate: Bool = false) async throws -> DeliveryRecord? {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: Self.deliveryColumns) FROM \(unescaped: name).deliveries
             WHERE org_id = \(org.rawValue) AND id = \(id) \(unescaped: forUpdate ? "FOR UPDATE" : "")
            """, logger: logger)
        for try await row in rows { return try Self.decodeDelivery(row) }
        return nil
    }

    /// Locks up to `limit` of the given deliveries that are still due, skipping rows another
    /// worker holds (`FOR UPDATE SKIP LOCKED`): two replicas never claim the same delivery.
    func lockDue(org: TenantID, ids: [UUID], now: Date) async throws -> [DeliveryRecord] {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: Self.deliveryColumns) FROM \(unescaped: name).deliveries
             WHERE org_id = \(org.rawValue) AND id = ANY(\(ids))
               AND ((status IN ('scheduled', 'retrying') AND next_attempt_at <= \(now)) OR (status = 'sending' AND lease_until < \(now)))
             ORDER BY next_attempt_at
             FOR UPDATE SKIP LOCKED
            """, logger: logger)
        var records: [DeliveryRecord] = []
        for try await row in rows { records.append(try Self.decodeDelivery(row)) }
        return records
    }

    /// Writes the lifecycle's new state of a delivery.
    func save(org: TenantID, _ state: DeliveryState, leaseUntil: Date?, claimedBy: String?, recipientKey: String?, now: Date) async throws {
        try await connection.query(
            """
            UPDATE \(unescaped: name).deliveries
               SET status = \(state.status.rawValue), attempts = \(state.attempts), round = \(state.round), round_attempts = \(state.roundAttempts),
                   next_attempt_at = \(state.nextAttemptAt), channel = \(state.channel?.rawValue), provider = \(state.provider), offline = \(state.offline),
                   last_reason = \(state.lastReason), last_detail = \(state.lastDetail), finished_at = \(state.finishedAt),
                   lease_until = \(leaseUntil), claimed_by = \(claimedBy), recipient_key = coalesce(\(recipientKey), recipient_key), updated_at = \(now)
             WHERE org_id = \(org.rawValue) AND id = \(state.id)
            """, logger: logger)
    }

    /// Whether the delivery is still the claim `claimedBy` made for `attempt` (its lease may have
    /// run out and another worker claimed it since). Locks the row.
    func holdsClaim(org: TenantID, id: UUID, attempt: Int, claimedBy: String) async throws -> Bool {
        let rows = try await connection.query(
            """
            SELECT 1 FROM \(unescaped: name).deliveries
             WHERE org_id = \(org.rawValue) AND id = \(id) AND status = 'sending' AND attempts = \(attempt) AND claimed_by = \(claimedBy)
             FOR UPDATE
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    // MARK: Attempts

    /// Records attempt `number` as in flight, before anything is sent.
    func startAttempt(org: TenantID, delivery: UUID, number: Int, channel: NotificationChannel, recipientKey: String, now: Date) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: name).delivery_attempts (org_id, delivery_id, number, channel, outcome, recipient_key, started_at)
            VALUES (\(org.rawValue), \(delivery), \(number), \(channel.rawValue), 'in_flight', \(recipientKey), \(now))
            """, logger: logger)
    }

    /// An attempt still in flight whose claim expired: its outcome is unknown.
    func abandonInFlight(org: TenantID, delivery: UUID, now: Date) async throws {
        try await connection.query(
            """
            UPDATE \(unescaped: name).delivery_attempts SET outcome = 'abandoned', reason = 'lease_expired', finished_at = \(now)
             WHERE org_id = \(org.rawValue) AND delivery_id = \(delivery) AND outcome = 'in_flight'
            """, logger: logger)
    }

    func finishAttempt(org: TenantID, delivery: UUID, number: Int, result: AttemptResult, now: Date) async throws {
        try await connection.query(
            """
            UPDATE \(unescaped: name).delivery_attempts
               SET outcome = \(result.outcome.rawValue), provider = \(result.provider), reply_code = \(result.replyCode), reason = \(result.reason),
                   detail = \(result.detail.map { String($0.prefix(300)) }), finished_at = \(now)
             WHERE org_id = \(org.rawValue) AND delivery_id = \(delivery) AND number = \(number)
            """, logger: logger)
    }

    /// An attempt whose outcome arrived after its claim was lost: the row keeps `abandoned` (or
    /// `in_flight` when nobody reclaimed it yet, then the next claim abandons it) and its detail
    /// says what the provider answered.
    func noteLateOutcome(org: TenantID, delivery: UUID, number: Int, result: AttemptResult) async throws {
        let note = "late outcome: \(result.outcome.rawValue)" + (result.replyCode.map { " \($0)" } ?? "") + " from \(result.provider)"
        try await connection.query(
            """
            UPDATE \(unescaped: name).delivery_attempts SET detail = \(note)
             WHERE org_id = \(org.rawValue) AND delivery_id = \(delivery) AND number = \(number)
            """, logger: logger)
    }

    func attempts(org: TenantID, delivery: UUID) async throws -> [AttemptRecord] {
        let rows = try await connection.query(
            """
            SELECT number, channel, provider, outcome, reply_code, reason, detail, started_at, finished_at
              FROM \(unescaped: name).delivery_attempts WHERE org_id = \(org.rawValue) AND delivery_id = \(delivery) ORDER BY number
            """, logger: logger)
        var records: [AttemptRecord] = []
        for try await (number, channel, provider, outcome, code, reason, detail, started, finished) in rows.decode(
            (Int, String?, String?, String, String?, String?, String?, Date, Date?).self)
        {
            records.append(
                AttemptRecord(
                    number: number, channel: channel, provider: provider, outcome: outcome, replyCode: code, reason: reason, detail: detail, startedAt: started,
                    finishedAt: finished))
        }
        return records
    }

    /// When messages reached, or are on their way to, the address behind `recipientKey` in the
    /// hour before `now` (an attempt in flight counts from its start: a claim of several
    /// deliveries to one address sees the ones claimed before it).
    func recentSends(org: TenantID, recipientKey: String, now: Date) async throws -> [Date] {
        let rows = try await connection.query(
            """
            SELECT coalesce(finished_at, started_at) FROM \(unescaped: name).delivery_attempts
             WHERE org_id = \(org.rawValue) AND recipient_key = \(recipientKey) AND outcome IN ('delivered', 'delivered_offline', 'in_flight')
               AND coalesce(finished_at, started_at) > \(now) - interval '1 hour'
            """, logger: logger)
        var times: [Date] = []
        for try await time in rows.decode(Date.self) { times.append(time) }
        return times
    }

    // MARK: Offline messages and endpoints

    /// Keeps what an offline channel would have sent.
    func storeOfflineMessage(org: TenantID, delivery: UUID, channel: NotificationChannel, messageJSON: String, now: Date) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: name).offline_messages (org_id, delivery_id, channel, message, stored_at)
            VALUES (\(org.rawValue), \(delivery), \(channel.rawValue), \(messageJSON)::jsonb, \(now))
            ON CONFLICT (org_id, delivery_id) DO UPDATE SET message = excluded.message, stored_at = excluded.stored_at
            """, logger: logger)
    }

    func endpoint(org: TenantID, id: String) async throws -> WebhookEndpoint? {
        let rows = try await connection.query(
            "SELECT id, url, secret_sealed, status FROM \(unescaped: name).webhook_endpoints WHERE org_id = \(org.rawValue) AND id = \(id)", logger: logger)
        for try await (id, url, sealed, status) in rows.decode((String, String, ByteBuffer, String).self) {
            return WebhookEndpoint(id: id, url: url, secret: try secrets.open(Array(buffer: sealed)), active: status == "active")
        }
        return nil
    }

    func disableEndpoint(org: TenantID, id: String, reason: String, now: Date) async throws {
        try await connection.query(
            """
            UPDATE \(unescaped: name).webhook_endpoints SET status = 'disabled', disabled_reason = \(reason), updated_at = \(now)
             WHERE org_id = \(org.rawValue) AND id = \(id)
            """, logger: logger)
    }

    // MARK: Outbox

    func enqueue(_ messages: [OutboxMessage]) async throws {
        try await Outbox(schema: schema).enqueue(messages, on: connection, logger: logger)
    }
}
