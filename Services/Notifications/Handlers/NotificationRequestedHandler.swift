import Contracts
import Foundation
import Logging
import Metrics
import Storage

/// Turns each `notification.requested` into at most one delivery per (org, dedupe key), inside
/// the consumer inbox's transaction: the same request twice, or a replay of the topic, creates
/// nothing new (`ignored`). Nothing is sent here; the delivery worker claims the delivery when
/// it is due.
struct NotificationRequestedHandler: Sendable {
    let catalog: TemplateCatalog
    let logger: Logger
    let now: @Sendable () -> Date

    func handle(_ event: InboxEvent<NotificationRequested>, store: some RequestStore) async throws -> InboxOutcome {
        let accepted = try await accept(
            event.envelope.data, org: event.tenant, causeEventID: event.envelope.id, correlationID: event.envelope.correlationid, store: store)
        return accepted.created ? .applied : .ignored
    }

    /// Creates the delivery of `request` unless its (org, dedupe key) has one; a request that
    /// cannot be sent at all is created `undeliverable` and announced. The consumed event and a
    /// person's request (`POST …/notifications`) both come through here.
    func accept(
        _ request: NotificationRequested, org: TenantID, causeEventID: String, correlationID: String, store: some RequestStore
    ) async throws -> (record: DeliveryRecord, created: Bool) {
        // Whole milliseconds: the admin list's cursor carries the creation time exactly.
        let time = Date(timeIntervalSince1970: (now().timeIntervalSince1970 * 1000).rounded(.down) / 1000)
        let id = DeliveryIdentity.deliveryID(org: org, dedupeKey: request.dedupeKey)
        var state = DeliveryState.new(id: id, notBefore: request.notBefore, now: time)
        if let refusal = Self.refusal(of: request, catalog: catalog) {
            state = DeliveryLifecycle.undeliverable(state, reason: refusal.reason, detail: refusal.detail, now: time)
        }
        let record = DeliveryRecord(
            org: org, state: state, dedupeKey: request.dedupeKey, templateKey: request.templateKey, channels: request.channels,
            recipient: request.recipient, locale: request.locale, variables: request.variables, notBefore: request.notBefore, causeType: request.causeType,
            causeEventID: causeEventID, correlationID: correlationID, leaseUntil: nil, createdAt: time, updatedAt: time)
        guard try await store.createDelivery(record) else {
            Counter(label: "notifications_requests_total", dimensions: [("outcome", "duplicate")]).increment()
            return (try await store.delivery(org: org, id: id, forUpdate: false) ?? record, false)
        }
        if state.status == .undeliverable {
            try await store.enqueue([try DeliveryAnnouncement.message(for: record, status: .undeliverable, now: time)])
            logger.notice("notification request is undeliverable", metadata: ["delivery_id": "\(id)", "reason": "\(state.lastReason ?? "")", "cause": "\(causeEventID)"])
        }
        Counter(label: "notifications_requests_total", dimensions: [("outcome", state.status == .undeliverable ? "undeliverable" : "accepted")]).increment()
        return (record, true)
    }

    /// What makes a request impossible to send, before any recipient is looked up.
    static func refusal(of request: NotificationRequested, catalog: TemplateCatalog) -> (reason: String, detail: String)? {
        if request.channels.isEmpty { return ("no_channel", "the request allows no channel") }
        if (request.recipient.customer == nil) == (request.recipient.address == nil) {
            return ("invalid_recipient", "the recipient must name exactly one of customer and address")
        }
        if !catalog.keys.contains(request.templateKey) {
            return (TemplateError.unknownTemplate(key: request.templateKey).reason, "no template has the key \(request.templateKey)")
        }
        return nil
    }
}

/// Upserts each customer's contact details (the only place they come from) and wakes the
/// deliveries that were waiting for them.
struct CustomerUpsertedHandler: Sendable {
    let now: @Sendable () -> Date

    func handle(_ event: InboxEvent<CustomerUpserted>, store: some RequestStore) async throws -> InboxOutcome {
        let customer = event.envelope.data
        let reference = CustomerReference(provider: customer.origin.provider, customerID: customer.customerID)
        let contact = Contact(customer: reference, email: customer.email, phone: customer.phone, name: customer.name, locale: customer.locale)
        let time = now()
        guard try await store.upsertContact(org: event.tenant, contact, sourceTime: customer.origin.occurredAt, now: time) else { return .ignored }
        try await store.wakeDeliveries(org: event.tenant, for: reference, now: time)
        return .applied
    }
}

/// The `notification.delivery` message announcing a delivery's state.
enum DeliveryAnnouncement {
    static func message(for record: DeliveryRecord, status: NotificationDeliveryStatus, now: Date) throws -> OutboxMessage {
        let payload = DeliveryLifecycle.announcement(
            of: record.state, status: status, dedupeKey: record.dedupeKey, templateKey: record.templateKey, customer: record.recipient.customer)
        return try OutboxMessage(
            EventEnvelope(
                id: DeliveryIdentity.eventID(delivery: record.state.id, round: record.state.round, attempt: record.state.attempts, status: status), source: "/tally/notifications",
                time: now, tenant: record.org.rawValue, correlationID: record.correlationID, causationID: record.causeEventID, data: payload))
    }
}
