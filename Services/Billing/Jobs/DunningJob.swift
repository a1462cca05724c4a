import Contracts
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceRuntime
import Storage

/// `billing.dunning`: walks every subscription with an unpaid invoice through the org's overdue
/// policy, counted from its oldest unpaid invoice.
///
/// Guarantees: each step of an invoice is done once — its `dunning_steps` row, the notification
/// request and the entitlement block commit in one transaction, and the row's primary key
/// refuses a second one, across restarts and replicas (which the job runner also keeps from
/// running at the same time). Of several message steps due at once (the job was down) only the
/// latest is sent; the others are recorded as skipped. An invoice paid meanwhile is left alone:
/// each subscription is decided again under its lock.
struct DunningJob: Sendable {
    static let name = "billing.dunning"

    let client: PostgresClient
    let schema: ServiceSchema
    let links: DunningMessages.Links
    let logger: Logger

    func job(interval: Duration) -> ScheduledJob {
        ScheduledJob(name: Self.name, interval: interval) { now, org in try await run(now: now, org: org) }
    }

    func run(now: Date, org: TenantID?) async throws -> JobRunReport {
        let queries = BillingQueries(client: client, schema: schema, logger: logger)
        let orgs: [TenantID]
        if let org { orgs = [org] } else { orgs = try await queries.orgsInDunning() }
        var report = JobRunReport()
        for org in orgs {
            let open = try await queries.openDunningInvoices(org: org)
            var groups: [SubscriptionReference: [DunningInvoice]] = [:]
            var alone: [DunningInvoice] = []
            for invoice in open {
                if let subscription = invoice.subscription { groups[subscription, default: []].append(invoice) } else { alone.append(invoice) }
            }
            for subscription in groups.keys.sorted(by: { $0.key < $1.key }) {
                report =
                    report
                    + (try await client.withTenantTransaction(org, logger: logger) { connection in
                        let store = PostgresBillingStore(schema: schema, connection: connection, logger: logger)
                        _ = try await store.subscription(subscription)
                        let unpaid = try await store.unpaidInvoices(of: subscription)
                        return try await Self.advance(unpaid, subscription: subscription, tenant: org, store: store, links: links, now: now)
                    })
            }
            for invoice in alone {
                report =
                    report
                    + (try await client.withTenantTransaction(org, logger: logger) { connection in
                        let store = PostgresBillingStore(schema: schema, connection: connection, logger: logger)
                        guard let current = try await store.invoice(provider: invoice.provider, invoiceID: invoice.invoiceID) else { return JobRunReport() }
                        return try await Self.advance([current], subscription: nil, tenant: org, store: store, links: links, now: now)
                    })
            }
        }
        return report
    }

    /// Does the steps due now for one subscription's unpaid invoices (or one invoice without a
    /// subscription), in the caller's transaction.
    static func advance(
        _ invoices: [DunningInvoice], subscription: SubscriptionReference?, tenant: TenantID, store: some BillingStore, links: DunningMessages.Links, now: Date
    ) async throws -> JobRunReport {
        guard let oldest = DunningRules.oldest(invoices.compactMap(\.unpaid)), let record = invoices.first(where: { $0.invoiceID == oldest.invoiceID }) else {
            return JobRunReport()
        }
        let policy = try await store.dunningPolicy()
        let done = try await store.doneSteps(provider: oldest.provider, invoiceID: oldest.invoiceID)
        let due = DunningRules.due(policy: policy, invoice: oldest, done: done, now: now)
        guard !due.isEmpty else { return JobRunReport(deferred: 1) }
        let day = DunningRules.days(since: oldest.failedAt, now: now)
        var report = JobRunReport()
        let runID = "job:\(name):\(RFC3339.string(now))"
        for (step, disposition) in due {
            // A block waits for its subscription: billing may not have seen it yet.
            if step.action == .block, let subscription, try await store.subscription(subscription) == nil {
                report.deferred += 1
                continue
            }
            let key = DunningRules.dedupeKey(invoiceID: oldest.invoiceID, action: step.action)
            let request = disposition == .send ? DunningMessages.request(step.action, invoice: oldest, customerRef: record.customerRef, policy: policy, links: links) : nil
            guard
                try await store.recordStep(
                    provider: oldest.provider, invoiceID: oldest.invoiceID, action: step.action, disposition: request == nil ? .skip : .send, day: day, dedupeKey: key,
                    at: now)
            else { continue }
            if let request {
                try await store.enqueue(
                    try OutboxMessage(
                        EventEnvelope(
                            id: notificationEventID(tenant: tenant, dedupeKey: key), source: "/tally/billing", time: now, tenant: tenant.rawValue,
                            correlationID: record.causeEventID, causationID: runID, data: request)))
                Counter(label: "billing_dunning_messages_total", dimensions: [("action", step.action.rawValue)]).increment()
            }
            if step.action == .block, let subscription {
                let block = EntitlementBlock(kind: .dunning, reason: "invoice_overdue", since: now, source: "dunning")
                let cause = ChangeCause(eventID: nil, actor: nil, correlationID: record.causeEventID, causationID: runID)
                _ = try await SubscriptionUpdates.apply(.dunningBlock(block: block), to: subscription, cause: cause, tenant: tenant, store: store, now: now)
            }
            report.processed += 1
        }
        return report
    }

    /// A notification request's event id: derived from the org and the dedupe key, so a step
    /// decided again never publishes a second request.
    static func notificationEventID(tenant: TenantID, dedupeKey: String) -> String {
        "notification-" + ContentHash.sha256Hex(Array("\(tenant.rawValue)\n\(dedupeKey)".utf8)).prefix(32)
    }
}
