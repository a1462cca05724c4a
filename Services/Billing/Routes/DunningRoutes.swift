import Contracts
import Foundation
import Hummingbird
import ServiceRuntime
import Storage

/// Admin routes of dunning and billing's jobs: every role reads the accounts in dunning and the
/// policy; owner, admin and finance change the policy; owner and admin run a job now for their
/// org (audited; the run takes the job's claim like any other, so it never runs twice at once).
struct DunningRoutes: Sendable {
    let queries: BillingQueries
    let commands: CatalogCommands
    let jobs: JobRunner
    let audit: AuditLog
    let now: @Sendable () -> Date

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("dunning") { _, context -> JSONAnswer<DunningList> in
            let org = try context.requirePrincipal().tenant()
            return JSONAnswer(body: DunningList(accounts: try await accounts(org: org)))
        }
        admin.get("dunning/policy") { _, context -> JSONAnswer<PolicyBody> in
            JSONAnswer(body: PolicyBody(steps: try await queries.dunningPolicy(org: try context.requirePrincipal().tenant()).steps))
        }
        admin.put("dunning/policy") { request, context -> JSONAnswer<PolicyBody> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, SubscriptionRoutes.changers, to: "changing the dunning policy")
            // The policy is an object of day per action, so each action appears at most once.
            let input = try await RequestInput.body([String: Int].self, from: request, allowed: Set(DunningAction.allCases.map(\.rawValue)))
            let steps = DunningAction.allCases.compactMap { action in input[action.rawValue].map { DunningStep(day: $0, action: action) } }
                .enumerated().sorted { ($0.element.day, $0.offset) < ($1.element.day, $1.offset) }.map(\.element)
            let policy: DunningPolicy
            switch Result(catching: { () throws(DunningPolicy.Refusal) in try DunningPolicy.validated(steps) }) {
            case .success(let valid): policy = valid
            case .failure(let refusal): throw RequestInput.invalid(refusal.field, refusal.rule)
            }
            let saved = try await commands.setPolicy(org: try principal.tenant(), policy: policy, by: SubscriptionRoutes.actor(principal, context))
            return JSONAnswer(body: PolicyBody(steps: saved.steps))
        }
        admin.post("jobs/:name/run") { _, context -> JSONAnswer<JobRunBody> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin], to: "running a job now")
            let org = try principal.tenant()
            guard let name = context.parameters.get("name"), let job = jobs.job(named: name) else {
                throw Problem.notFound("no such job; billing runs \(jobs.jobs.map(\.name).joined(separator: ", "))")
            }
            let outcome = await jobs.runOnce(job, org: org)
            let body: JobRunBody
            switch outcome {
            case .ran(let report): body = JobRunBody(job: name, outcome: "ran", processed: report.processed, deferred: report.deferred, error: nil)
            case .busy: body = JobRunBody(job: name, outcome: "busy", processed: nil, deferred: nil, error: nil)
            case .failed(let error): body = JobRunBody(job: name, outcome: "failed", processed: nil, deferred: nil, error: String(error.prefix(200)))
            }
            try await queries.inTenant(org) { _, connection in
                try await audit.record(
                    org: org, actor: principal.subject, action: "job.run", target: "job:\(name)", before: nil as [String: String]?,
                    after: ["outcome": body.outcome, "processed": body.processed.map(String.init) ?? ""], correlationID: context.correlationID, on: connection,
                    logger: context.logger)
            }
            return JSONAnswer(status: outcome == .busy ? .conflict : .ok, body: body)
        }
    }

    /// The accounts in dunning: one per subscription (or per invoice without one), driven by the
    /// oldest unpaid invoice.
    func accounts(org: TenantID) async throws -> [DunningEntry] {
        let open = try await queries.openDunningInvoices(org: org)
        let steps = try await queries.openDunningSteps(org: org)
        let policy = try await queries.dunningPolicy(org: org)
        let time = now()
        var groups: [String: [DunningInvoice]] = [:]
        for invoice in open { groups[invoice.subscription?.key ?? "invoice:\(invoice.provider.rawValue):\(invoice.invoiceID)", default: []].append(invoice) }
        var entries: [DunningEntry] = []
        for key in groups.keys.sorted() {
            let invoices = groups[key] ?? []
            guard let oldest = DunningRules.oldest(invoices.compactMap(\.unpaid)), let record = invoices.first(where: { $0.invoiceID == oldest.invoiceID }) else { continue }
            let done = steps["\(oldest.provider.rawValue):\(oldest.invoiceID)"] ?? []
            let next = DunningRules.next(policy: policy, invoice: oldest, done: done)
            let last = policy.steps.last { done.contains($0.action) }
            let total = invoices.filter { $0.amount.currency == oldest.amount.currency }.reduce(Int64(0)) { $0 + $1.amount.amountMinor }
            entries.append(
                DunningEntry(
                    provider: oldest.provider.rawValue, subscriptionID: record.subscriptionID, customerRef: record.customerRef, invoiceID: oldest.invoiceID,
                    invoiceNumber: oldest.number, unpaidInvoices: invoices.count, amountDue: Money(amountMinor: total, currency: oldest.amount.currency),
                    failedAt: oldest.failedAt, days: DunningRules.days(since: oldest.failedAt, now: time), step: last?.action.rawValue,
                    nextAction: next?.step.action.rawValue, nextActionAt: next?.at, blocked: done.contains(.block)))
        }
        return entries
    }
}
