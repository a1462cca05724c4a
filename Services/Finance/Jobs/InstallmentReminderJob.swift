import Contracts
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceRuntime
import Storage

/// `finance.installments.reminders` (the seed's daily "contact customers >3 days overdue"):
/// for every open installment more than 3 days late, a reminder (`installment.overdue`) to its
/// customer at each step of `PlanRules.reminderDays` it reaches: once per installment and step.
/// The `installment_reminders` row and the notification request commit together, and the
/// request's dedupe key is the installment and step, so neither a repeat run nor a replica sends
/// a second one. Steps passed while the job was down are not sent late: only the latest.
struct InstallmentReminderJob: Sendable {
    static let name = "finance.installments.reminders"
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger

    func job(interval: Duration) -> ScheduledJob {
        ScheduledJob(name: Self.name, interval: interval) { now, org in try await run(now: now, org: org) }
    }

    func run(now: Date, org: TenantID?) async throws -> JobRunReport {
        let first = PlanRules.reminderDays[0]
        let orgs: [TenantID]
        if let org { orgs = [org] } else { orgs = try await PlanStore.orgsWithOverdue(minDays: first, now: now, client: client, schema: schema, logger: logger) }
        var report = JobRunReport()
        for org in orgs {
            var after: (Date, String, Int)?
            while true {
                let (page, sent, skipped) = try await client.withTenantTransaction(org, logger: logger) { connection in
                    let plans = PlanStore(schema: schema, connection: connection, logger: logger)
                    let page = try await plans.overdue(minDays: first, now: now, after: after, limit: 200)
                    var sent = 0
                    var skipped = 0
                    for item in page {
                        let days = PlanRules.daysLate(dueOn: item.installment.dueOn, now: now)
                        guard let step = PlanRules.reminderStep(daysLate: days), let customer = item.customerRef else {
                            skipped += 1
                            continue
                        }
                        guard try await plans.recordReminder(planID: item.planID, number: item.installment.number, step: step, at: LedgerSeal.truncated(now))
                        else { continue }
                        try await PostgresFinanceStore(schema: schema, connection: connection, logger: logger).enqueue(
                            try Self.message(item, customer: customer, step: step, daysLate: days, tenant: org, now: now))
                        sent += 1
                    }
                    return (page, sent, skipped)
                }
                report.processed += sent
                report.deferred += skipped
                if sent > 0 { Counter(label: "finance_installment_reminders_total").increment(by: sent) }
                guard let last = page.last, page.count == 200 else { break }
                after = (last.installment.dueOn, last.planID, last.installment.number)
            }
        }
        return report
    }

    static func dedupeKey(planID: String, number: Int, step: Int) -> String { "installment-overdue:\(planID):\(number):\(step)" }

    static func message(_ item: OverdueInstallment, customer: String, step: Int, daysLate: Int, tenant: TenantID, now: Date) throws -> OutboxMessage {
        let key = dedupeKey(planID: item.planID, number: item.installment.number, step: step)
        let request = NotificationRequested(
            dedupeKey: key, templateKey: "installment.overdue", channels: [.email, .whatsapp],
            recipient: NotificationRecipient(customer: CustomerReference(provider: item.customerProvider, customerID: customer)), locale: nil,
            variables: [
                "installment": "\(item.installment.number) of \(item.installmentCount)",
                "amount": MoneyText.display(Money(amountMinor: item.installment.amountMinor, currency: item.currency)),
                "due_date": ExportPeriod.day(item.installment.dueOn), "days_late": "\(daysLate)", "reference": item.installment.reference,
            ], notBefore: nil, causeType: "finance.installment.overdue")
        return try NotificationOutbox.message(request, tenant: tenant, correlationID: nil, now: now)
    }
}
