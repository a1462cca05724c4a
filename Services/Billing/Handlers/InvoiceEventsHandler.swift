import Contracts
import Foundation
import Logging
import Metrics

/// Dunning's consumed events, inside the inbox's transaction:
///
/// - `invoice.payment_failed` records the invoice (the first failure's time counts) and requests
///   its payment-failed message once: the `notice` step's row is the guard, so the same failure
///   delivered again, or a second failure of the invoice, requests nothing more.
/// - `invoice.paid`, or a captured payment naming the invoice, ends its dunning: the invoice
///   leaves the overdue list and, when no other unpaid invoice keeps the subscription past its
///   block day, the dunning block lifts at once.
struct InvoiceEventsHandler: Sendable {
    let links: DunningMessages.Links
    let logger: Logger
    let now: @Sendable () -> Date

    func paymentFailed(_ event: InboxEvent<InvoicePaymentFailed>, store: some BillingStore) async throws -> InboxOutcome {
        let failed = event.data
        let time = now()
        let recorded = try await store.recordFailure(
            DunningInvoice(
                provider: failed.origin.provider, invoiceID: failed.invoiceID, number: failed.invoiceNumber, subscriptionID: failed.subscriptionRef,
                customerRef: failed.customerRef, amount: failed.amountDue, failedAt: failed.origin.occurredAt, paidAt: nil, causeEventID: event.envelope.id),
            at: time)
        guard let unpaid = recorded.unpaid else {
            logger.info("payment failure of an invoice already paid", metadata: ["event_id": "\(event.envelope.id)"])
            return .ignored
        }
        let policy = try await store.dunningPolicy()
        guard policy.steps.contains(where: { $0.action == .notice }) else { return .applied }
        let key = DunningRules.dedupeKey(invoiceID: unpaid.invoiceID, action: .notice)
        let request = DunningMessages.request(.notice, invoice: unpaid, customerRef: recorded.customerRef, policy: policy, links: links)
        let recordedStep = try await store.recordStep(
            provider: unpaid.provider, invoiceID: unpaid.invoiceID, action: .notice, disposition: request == nil ? .skip : .send, day: 0, dedupeKey: key, at: time)
        guard recordedStep, let request else { return .applied }
        try await store.enqueue(
            try OutboxMessage(
                EventEnvelope(
                    id: DunningJob.notificationEventID(tenant: event.tenant, dedupeKey: key), source: "/tally/billing", time: time,
                    tenant: event.tenant.rawValue, correlationID: event.envelope.correlationid, causationID: event.envelope.id, data: request)))
        Counter(label: "billing_dunning_messages_total", dimensions: [("action", DunningAction.notice.rawValue)]).increment()
        return .applied
    }

    func paid(_ event: InboxEvent<InvoicePaid>, store: some BillingStore) async throws -> InboxOutcome {
        let paid = event.data
        let known = DunningInvoice(
            provider: paid.origin.provider, invoiceID: paid.invoiceID, number: paid.invoiceNumber, subscriptionID: paid.subscriptionRef,
            customerRef: paid.customerRef, amount: paid.amountPaid, failedAt: nil, paidAt: paid.paidAt, causeEventID: event.envelope.id)
        let ended = try await store.recordPaid(provider: paid.origin.provider, invoiceID: paid.invoiceID, paidAt: paid.paidAt, recordIfUnknown: known, at: now())
        guard let ended else { return .applied }
        try await liftIfClear(ended, event: event.envelope.id, correlationID: event.envelope.correlationid, tenant: event.tenant, store: store)
        return .applied
    }

    func paymentCaptured(_ event: InboxEvent<PaymentCaptured>, store: some BillingStore) async throws -> InboxOutcome {
        let captured = event.data
        guard let invoiceID = captured.invoiceRef else { return .ignored }
        let ended = try await store.recordPaid(
            provider: captured.origin.provider, invoiceID: invoiceID, paidAt: captured.origin.occurredAt, recordIfUnknown: nil, at: now())
        guard let ended else { return .ignored }
        try await liftIfClear(ended, event: event.envelope.id, correlationID: event.envelope.correlationid, tenant: event.tenant, store: store)
        return .applied
    }

    /// Lifts the subscription's dunning block when its remaining unpaid invoices do not keep it.
    private func liftIfClear(_ invoice: DunningInvoice, event: String, correlationID: String, tenant: TenantID, store: some BillingStore) async throws {
        Counter(label: "billing_dunning_resolved_total").increment()
        guard let subscription = invoice.subscription, let stored = try await store.subscription(subscription), stored.projection.dunningBlock != nil else { return }
        let time = now()
        let remaining = try await store.unpaidInvoices(of: subscription).compactMap(\.unpaid)
        guard !DunningRules.shouldBlock(policy: try await store.dunningPolicy(), unpaid: remaining, now: time) else { return }
        let cause = ChangeCause(eventID: event, actor: nil, correlationID: correlationID, causationID: event)
        _ = try await SubscriptionUpdates.apply(.dunningLift(at: time), to: subscription, cause: cause, tenant: tenant, store: store, now: time)
    }
}
