import Contracts
import Foundation
import Storage
import Synchronization

@testable import Billing

/// One org's billing state in memory, with the guarantees of the PostgreSQL store that the
/// handlers rely on: one subscription per provider reference, an append-only history, the first
/// failure's time kept, one row per dunning step.
final class InMemoryBilling: BillingStore, Sendable {
    struct State {
        var subscriptions: [SubscriptionReference: StoredSubscription] = [:]
        var history: [(UUID, SubscriptionChange)] = []
        var mappings: [String: ProviderFact.MappedPlan] = [:]
        var limits: [String: [String: Int64]] = [:]
        var outbox: [OutboxMessage] = []
        var invoices: [String: DunningInvoice] = [:]
        var steps: Set<String> = []
        var policy: DunningPolicy = .standard
        var engagement: Set<String> = []
        var usage: [String: UsageRecorded] = [:]
        var counters: [String: Int64] = [:]
    }
    let state = Mutex(State())

    var outbox: [OutboxMessage] { state.withLock { $0.outbox } }
    func projection(_ reference: SubscriptionReference) -> SubscriptionProjection? { state.withLock { $0.subscriptions[reference]?.projection } }
    func entitlements() throws -> [EntitlementChanged] {
        try outbox.filter { $0.topic == TallyTopic.entitlements.name }.map { try CanonicalJSON.decode(EventEnvelope<EntitlementChanged>.self, from: $0.payload).data }
    }
    func requests() throws -> [NotificationRequested] {
        try outbox.filter { $0.topic == TallyTopic.notificationRequests.name }.map {
            try CanonicalJSON.decode(EventEnvelope<NotificationRequested>.self, from: $0.payload).data
        }
    }

    func subscription(_ reference: SubscriptionReference) async throws -> StoredSubscription? { state.withLock { $0.subscriptions[reference] } }

    func save(_ subscription: StoredSubscription, change: SubscriptionChange, causeEventID: String?, actor: String?, at: Date) async throws {
        state.withLock { state in
            state.subscriptions[subscription.projection.reference] = subscription
            state.history.append((subscription.id, change))
        }
    }

    func mappedPlan(provider: WebhookProvider, providerPlan: String) async throws -> ProviderFact.MappedPlan? {
        state.withLock { $0.mappings["\(provider.rawValue):\(providerPlan)"] }
    }

    func limits(plan code: String, version: Int) async throws -> [String: Int64] { state.withLock { $0.limits["\(code):\(version)"] ?? [:] } }

    func enqueue(_ message: OutboxMessage) async throws {
        try state.withLock { state in
            guard !state.outbox.contains(where: { $0.eventID == message.eventID }) else { throw DuplicateEvent(id: message.eventID) }
            state.outbox.append(message)
        }
    }

    struct DuplicateEvent: Error { let id: String }

    func recordFailure(_ invoice: DunningInvoice, at: Date) async throws -> DunningInvoice {
        state.withLock { state in
            let key = "\(invoice.provider.rawValue):\(invoice.invoiceID)"
            guard var existing = state.invoices[key] else {
                state.invoices[key] = invoice
                return invoice
            }
            if let failed = invoice.failedAt { existing.failedAt = min(existing.failedAt ?? failed, failed) }
            state.invoices[key] = existing
            return existing
        }
    }

    func recordPaid(
        provider: WebhookProvider, invoiceID: String, paidAt: Date, recordIfUnknown invoice: DunningInvoice?, at: Date
    ) async throws
        -> DunningInvoice?
    {
        state.withLock { state in
            let key = "\(provider.rawValue):\(invoiceID)"
            guard var existing = state.invoices[key] else {
                if let invoice { state.invoices[key] = invoice }
                return nil
            }
            guard existing.paidAt == nil else { return nil }
            existing.paidAt = paidAt
            state.invoices[key] = existing
            return existing.failedAt == nil ? nil : existing
        }
    }

    func invoice(provider: WebhookProvider, invoiceID: String) async throws -> DunningInvoice? {
        state.withLock { $0.invoices["\(provider.rawValue):\(invoiceID)"] }
    }

    func unpaidInvoices(of subscription: SubscriptionReference) async throws -> [DunningInvoice] {
        state.withLock { state in
            state.invoices.values.filter { $0.subscription == subscription && $0.unpaid != nil }.sorted { $0.invoiceID < $1.invoiceID }
        }
    }

    func doneSteps(provider: WebhookProvider, invoiceID: String) async throws -> Set<DunningAction> {
        state.withLock { state in Set(DunningAction.allCases.filter { state.steps.contains("\(provider.rawValue):\(invoiceID):\($0.rawValue)") }) }
    }

    func recordStep(
        provider: WebhookProvider, invoiceID: String, action: DunningAction, disposition: StepDisposition, day: Int, dedupeKey: String, at: Date
    )
        async throws -> Bool
    {
        state.withLock { $0.steps.insert("\(provider.rawValue):\(invoiceID):\(action.rawValue)").inserted }
    }

    func dunningPolicy() async throws -> DunningPolicy { state.withLock { $0.policy } }

    func engagementRecorded(subscription: UUID) async throws -> Set<String> {
        state.withLock { state in
            Set(state.engagement.filter { $0.hasPrefix("\(subscription) ") }.map { String($0.dropFirst(subscription.uuidString.count + 1)) })
        }
    }

    func recordEngagement(subscription: UUID, templateKey: String, disposition: StepDisposition, day: Int, dedupeKey: String, at: Date) async throws -> Bool {
        state.withLock { $0.engagement.insert("\(subscription) \(templateKey)").inserted }
    }

    func recordUsage(_ usage: UsageRecorded, month: String, eventID: String, at: Date) async throws -> Bool {
        state.withLock { state in
            guard state.usage[usage.transactionID] == nil else { return false }
            state.usage[usage.transactionID] = usage
            state.counters["\(usage.subscription.key) \(usage.metric) \(month)", default: 0] += usage.quantity
            return true
        }
    }
}
