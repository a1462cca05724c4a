import Contracts
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceRuntime
import Storage

/// `billing.engagement`: the lifecycle messages (days 7, 14, 30, 60, 90 after activation) and the
/// NPS survey (day 45) for active subscribers.
///
/// Guarantees: each template is requested at most once per subscription — its
/// `engagement_messages` row and the request commit together, and the row's primary key refuses
/// a second one, across restarts and replicas. A paused, past-due or canceled subscription gets
/// nothing and nothing is recorded for it, so a resumed one continues where it was. Of several
/// lifecycle messages due at once only the latest is sent.
struct EngagementJob: Sendable {
    static let name = "billing.engagement"

    let client: PostgresClient
    let schema: ServiceSchema
    let product: EngagementMessages.Product
    let logger: Logger

    func job(interval: Duration) -> ScheduledJob {
        ScheduledJob(name: Self.name, interval: interval) { now, org in try await run(now: now, org: org) }
    }

    func run(now: Date, org: TenantID?) async throws -> JobRunReport {
        let queries = BillingQueries(client: client, schema: schema, logger: logger)
        let orgs: [TenantID]
        if let org { orgs = [org] } else { orgs = try await queries.orgsWithActiveSubscriptions() }
        var report = JobRunReport()
        for org in orgs {
            for reference in try await queries.subscriptionsInCadence(org: org, steps: EngagementRules.lifecycle.count + 1) {
                report =
                    report
                    + (try await client.withTenantTransaction(org, logger: logger) { connection in
                        let store = PostgresBillingStore(schema: schema, connection: connection, logger: logger)
                        return try await Self.advance(reference, tenant: org, store: store, product: product, now: now)
                    })
            }
        }
        return report
    }

    /// Requests the engagement messages due now for one subscription, in the caller's transaction.
    static func advance(
        _ reference: SubscriptionReference, tenant: TenantID, store: some BillingStore, product: EngagementMessages.Product, now: Date
    )
        async throws -> JobRunReport
    {
        guard let stored = try await store.subscription(reference) else { return JobRunReport() }
        let projection = stored.projection
        let recorded = try await store.engagementRecorded(subscription: stored.id)
        let due = EngagementRules.due(status: projection.status, activatedAt: projection.activatedAt, recorded: recorded, now: now)
        guard !due.isEmpty else { return JobRunReport(deferred: 1) }
        var report = JobRunReport()
        let day = projection.activatedAt.map { DunningRules.days(since: $0, now: now) } ?? 0
        for (step, disposition) in due {
            let request = disposition == .send ? EngagementMessages.request(step, subscription: projection, product: product) : nil
            let key = EngagementRules.dedupeKey(subscription: reference.key, templateKey: step.templateKey)
            guard
                try await store.recordEngagement(
                    subscription: stored.id, templateKey: step.templateKey, disposition: request == nil ? .skip : .send, day: day, dedupeKey: key, at: now)
            else { continue }
            if let request {
                try await store.enqueue(
                    try OutboxMessage(
                        EventEnvelope(
                            id: DunningJob.notificationEventID(tenant: tenant, dedupeKey: key), source: "/tally/billing", time: now, tenant: tenant.rawValue,
                            correlationID: "job:\(name):\(reference.key)", causationID: "job:\(name):\(RFC3339.string(now))", data: request)))
                Counter(label: "billing_engagement_messages_total", dimensions: [("template", step.templateKey)]).increment()
            }
            report.processed += 1
        }
        return report
    }
}
