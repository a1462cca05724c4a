import Contracts
import Foundation
import Storage

/// What the consumed-event handlers need from storage: requests become deliveries, customers
/// become contacts. `NotificationsStore` is the PostgreSQL one (inside the inbox's transaction);
/// tests use an in-memory one.
protocol RequestStore: Sendable {
    /// Creates the delivery unless one exists for its (org, dedupe key); whether it was created.
    func createDelivery(_ record: DeliveryRecord) async throws -> Bool
    func delivery(org: TenantID, id: UUID, forUpdate: Bool) async throws -> DeliveryRecord?
    /// Keeps the newest contact details (by provider time); whether the row changed.
    func upsertContact(org: TenantID, _ contact: Contact, sourceTime: Date, now: Date) async throws -> Bool
    /// Deliveries waiting for this customer's details become due now.
    func wakeDeliveries(org: TenantID, for customer: CustomerReference, now: Date) async throws
    func enqueue(_ messages: [OutboxMessage]) async throws
}

extension NotificationsStore: RequestStore {}
