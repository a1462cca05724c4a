import Contracts
import Foundation

/// A subscription as billing keeps it: its projection and the entitlement last published for it.
struct StoredSubscription: Sendable, Equatable {
    var id: UUID
    var projection: SubscriptionProjection
    /// What `tally.billing.entitlements.v1` last said (nil before the first publication).
    var entitlement: EffectiveEntitlement?
    /// The revision of that publication (0 before the first).
    var entitlementRevision: Int64
}

/// A provider invoice as dunning records it: from its first failed payment (or its payment, when
/// that arrived first) until it is paid.
struct DunningInvoice: Sendable, Equatable {
    var provider: WebhookProvider
    var invoiceID: String
    var number: String?
    var subscriptionID: String?
    var customerRef: String?
    var amount: Money
    /// When its payment first failed; nil for an invoice billing only saw paid.
    var failedAt: Date?
    var paidAt: Date?
    var causeEventID: String

    /// The invoice as the dunning rules read it, while it is in dunning.
    var unpaid: UnpaidInvoice? {
        guard let failedAt, paidAt == nil else { return nil }
        return UnpaidInvoice(provider: provider, invoiceID: invoiceID, number: number, amount: amount, failedAt: failedAt)
    }
    var subscription: SubscriptionReference? { subscriptionID.map { SubscriptionReference(provider: provider, subscriptionID: $0) } }
}

/// What billing's handlers, jobs and commands read and write, inside one transaction for one org
/// (the caller ran `setTenant`). `PostgresBillingStore` is the real one; the tests also use an
/// in-memory one, so the rules of the handlers are checked without a database.
protocol BillingStore: Sendable {
    // MARK: Subscriptions
    /// The subscription, locked until the transaction ends; nil when billing has never seen it.
    func subscription(_ reference: SubscriptionReference) async throws -> StoredSubscription?
    /// Writes `subscription` (inserting it the first time) and appends `change` to its history.
    func save(_ subscription: StoredSubscription, change: SubscriptionChange, causeEventID: String?, actor: String?, at: Date) async throws
    /// The plan code a provider's price or plan id maps to, with that plan's newest version.
    func mappedPlan(provider: WebhookProvider, providerPlan: String) async throws -> ProviderFact.MappedPlan?
    /// The limits of one plan version (empty when the version is unknown).
    func limits(plan code: String, version: Int) async throws -> [String: Int64]
    /// Queues a message in the service's outbox, in the same transaction.
    func enqueue(_ message: OutboxMessage) async throws

    // MARK: Dunning
    /// Records a failed payment of an invoice; a later failure keeps the first failure's time.
    /// Returns the invoice as recorded now (its `paidAt` set when it was paid already: a late
    /// failure changes nothing).
    func recordFailure(_ invoice: DunningInvoice, at: Date) async throws -> DunningInvoice
    /// Marks the invoice paid (recording it, when `invoice` is given and billing never saw it,
    /// so a late failure is recognised); returns it when it was in dunning until now.
    func recordPaid(
        provider: WebhookProvider, invoiceID: String, paidAt: Date, recordIfUnknown invoice: DunningInvoice?, at: Date
    ) async throws
        -> DunningInvoice?
    /// One invoice in dunning, locked until the transaction ends.
    func invoice(provider: WebhookProvider, invoiceID: String) async throws -> DunningInvoice?
    /// The unpaid invoices of one subscription.
    func unpaidInvoices(of subscription: SubscriptionReference) async throws -> [DunningInvoice]
    /// The steps done for an invoice.
    func doneSteps(provider: WebhookProvider, invoiceID: String) async throws -> Set<DunningAction>
    /// Records a step as done; false when it was done already (the step's exactly-once guard).
    func recordStep(
        provider: WebhookProvider, invoiceID: String, action: DunningAction, disposition: StepDisposition, day: Int, dedupeKey: String, at: Date
    )
        async throws -> Bool
    /// The org's overdue policy (the standard one without a row).
    func dunningPolicy() async throws -> DunningPolicy

    // MARK: Usage
    /// Records a usage report once per transaction id and adds it to its month's counter; false
    /// when the transaction was recorded already (nothing is counted twice).
    func recordUsage(_ usage: UsageRecorded, month: String, eventID: String, at: Date) async throws -> Bool

    // MARK: Engagement
    /// The engagement templates recorded (sent or skipped) for a subscription.
    func engagementRecorded(subscription: UUID) async throws -> Set<String>
    /// Records an engagement message as done; false when it was recorded already.
    func recordEngagement(subscription: UUID, templateKey: String, disposition: StepDisposition, day: Int, dedupeKey: String, at: Date) async throws -> Bool
}
