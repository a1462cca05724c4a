import Contracts
import Foundation
import Logging
import Storage
import Synchronization
import TallyTestSupport
import Testing

@testable import Notifications

/// Requests and contacts kept in memory, the way the PostgreSQL store keeps them: one delivery per
/// (org, dedupe key), the newest contact by provider time.
final class InMemoryRequestStore: RequestStore {
    struct State {
        var deliveries: [String: DeliveryRecord] = [:]
        var contacts: [String: (contact: Contact, sourceTime: Date)] = [:]
        var woken: [CustomerReference] = []
        var outbox: [OutboxMessage] = []
    }

    let state = Mutex(State())

    func createDelivery(_ record: DeliveryRecord) async throws -> Bool {
        state.withLock { state in
            let key = "\(record.org.rawValue)\n\(record.dedupeKey)"
            guard state.deliveries[key] == nil else { return false }
            state.deliveries[key] = record
            return true
        }
    }

    func delivery(org: TenantID, id: UUID, forUpdate: Bool) async throws -> DeliveryRecord? {
        state.withLock { $0.deliveries.values.first { $0.org == org && $0.state.id == id } }
    }

    func upsertContact(org: TenantID, _ contact: Contact, sourceTime: Date, now: Date) async throws -> Bool {
        state.withLock { state in
            let key = "\(org.rawValue)\n\(contact.customer.provider.rawValue)\n\(contact.customer.customerID)"
            if let kept = state.contacts[key], kept.sourceTime > sourceTime { return false }
            state.contacts[key] = (contact, sourceTime)
            return true
        }
    }

    func wakeDeliveries(org: TenantID, for customer: CustomerReference, now: Date) async throws {
        state.withLock { $0.woken.append(customer) }
    }

    func enqueue(_ messages: [OutboxMessage]) async throws {
        state.withLock { $0.outbox += messages }
    }
}

/// The consumed-event handlers over an in-memory store, with events built from the contract
/// fixtures: what becomes a delivery, what is a repeat, what is undeliverable at once.
@Suite("Request handlers")
struct RequestHandlerTests {
    static let now = Date(timeIntervalSince1970: 1_780_000_000.123_456)

    static func handler() throws -> NotificationRequestedHandler {
        NotificationRequestedHandler(catalog: try TemplateCatalog.shipped(), logger: Logger(label: "tests"), now: { now })
    }

    static func requested(_ change: (inout EventEnvelope<NotificationRequested>) -> Void = { _ in }) throws -> InboxEvent<NotificationRequested> {
        try TestEvents.inboxEvent(try TestEvents.fixture(NotificationRequested.self, change))
    }

    @Test func theFixtureBecomesOneScheduledDeliveryAndItsRepeatIsIgnored() async throws {
        let store = InMemoryRequestStore()
        let handler = try Self.handler()
        let first = try Self.requested()
        #expect(try await handler.handle(first, store: store) == .applied)
        let again = try Self.requested { $0.id = "another-event-id" }
        #expect(try await handler.handle(again, store: store) == .ignored)
        let kept = store.state.withLock { Array($0.deliveries.values) }
        #expect(kept.count == 1)
        let record = try #require(kept.first)
        #expect(record.state.id == DeliveryIdentity.deliveryID(org: first.tenant, dedupeKey: first.envelope.data.dedupeKey))
        #expect(record.state.status == .scheduled)
        #expect(record.state.nextAttemptAt == max(first.envelope.data.notBefore ?? record.createdAt, record.createdAt), "not before not_before")
        #expect(record.causeEventID == first.envelope.id)
        #expect(record.createdAt.timeIntervalSince1970 * 1000 == (record.createdAt.timeIntervalSince1970 * 1000).rounded(.down), "whole milliseconds")
        #expect(store.state.withLock { $0.outbox.isEmpty }, "nothing is announced until an attempt or a refusal")
    }

    /// A request that cannot be sent, by the reason it ends with.
    static func unsendable(_ reason: String) throws -> InboxEvent<NotificationRequested> {
        try requested { event in
            switch reason {
            case "no_channel": event.data.channels = []
            case "template_unknown": event.data.templateKey = "no.such"
            default: event.data.recipient.address = NotificationAddress(email: "ops@example.com")  // both kinds of recipient
            }
        }
    }

    @Test(arguments: ["no_channel", "template_unknown", "invalid_recipient"])
    func aRequestThatCannotBeSentIsUndeliverableAtOnceAndAnnounced(_ reason: String) async throws {
        let store = InMemoryRequestStore()
        #expect(try await Self.handler().handle(try Self.unsendable(reason), store: store) == .applied)
        let record = try #require(store.state.withLock { $0.deliveries.values.first })
        #expect(record.state.status == .undeliverable)
        #expect(record.state.lastReason == reason)
        let outbox = store.state.withLock { $0.outbox }
        #expect(outbox.count == 1)
        let event = try CanonicalJSON.decode(EventEnvelope<NotificationDelivery>.self, from: try #require(outbox.first).payload)
        #expect(event.data.status == .undeliverable && event.data.reason == reason && event.data.attempts == 0)
    }

    @Test func anOlderCustomerUpsertChangesNothingAndANewerOneWakesItsDeliveries() async throws {
        let store = InMemoryRequestStore()
        let handler = CustomerUpsertedHandler(now: { Self.now })
        let newer = try TestEvents.inboxEvent(try TestEvents.fixture(CustomerUpserted.self))
        #expect(try await handler.handle(newer, store: store) == .applied)
        let older = try TestEvents.inboxEvent(
            try TestEvents.fixture(CustomerUpserted.self) { event in
                event.id = "older"
                event.data.email = "old@example.com"
                event.data.origin.occurredAt = event.data.origin.occurredAt.addingTimeInterval(-60)
            })
        #expect(try await handler.handle(older, store: store) == .ignored)
        let kept = try #require(store.state.withLock { $0.contacts.values.first })
        #expect(kept.contact.email == newer.envelope.data.email)
        #expect(store.state.withLock { $0.woken } == [CustomerReference(provider: newer.envelope.data.origin.provider, customerID: newer.envelope.data.customerID)])
    }
}
