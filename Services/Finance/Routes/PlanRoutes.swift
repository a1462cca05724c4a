import Contracts
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceRuntime
import Storage

/// Payment plans, the overdue installments and the receivables under `/admin/orgs/{org}/…`.
/// Creating and renegotiating take owner, admin or finance; marking an installment paid takes
/// owner or finance; every role reads. Each change is audited with before and after.
struct PlanRoutes: Sendable {
    let queries: FinanceQueries
    let desk: PlanDesk
    let audit: AuditLog
    let logger: Logger
    let now: @Sendable () -> Date

    struct ScheduleInput: Decodable {
        struct Item: Decodable {
            var dueOn: String
            var amountMinor: Int64
            enum CodingKeys: String, CodingKey { case dueOn = "due_on", amountMinor = "amount_minor" }

            init(from decoder: any Decoder) throws {
                try decoder.refuseUnknownMembers(["due_on", "amount_minor"])
                let container = try decoder.container(keyedBy: CodingKeys.self)
                dueOn = try container.decode(String.self, forKey: .dueOn)
                amountMinor = try container.decode(Int64.self, forKey: .amountMinor)
            }
        }
        var count: Int?
        var firstDueOn: String?
        var intervalDays: Int?
        var remainderOn: String?
        var installments: [Item]?
        enum CodingKeys: String, CodingKey {
            case count, firstDueOn = "first_due_on", intervalDays = "interval_days", remainderOn = "remainder_on", installments
        }

        init(from decoder: any Decoder) throws {
            try decoder.refuseUnknownMembers(["count", "first_due_on", "interval_days", "remainder_on", "installments"])
            let container = try decoder.container(keyedBy: CodingKeys.self)
            count = try container.decodeIfPresent(Int.self, forKey: .count)
            firstDueOn = try container.decodeIfPresent(String.self, forKey: .firstDueOn)
            intervalDays = try container.decodeIfPresent(Int.self, forKey: .intervalDays)
            remainderOn = try container.decodeIfPresent(String.self, forKey: .remainderOn)
            installments = try container.decodeIfPresent([Item].self, forKey: .installments)
        }
    }

    struct CreateRequest: Decodable {
        var invoiceID: String?
        var customerRef: String?
        var provider: String?
        var currency: String?
        var totalMinor: Int64?
        var reason: String?
        var schedule: ScheduleInput
        enum CodingKeys: String, CodingKey {
            case invoiceID = "invoice_id", customerRef = "customer_ref", provider, currency, totalMinor = "total_minor", reason, schedule
        }
    }

    struct RenegotiateRequest: Decodable {
        var reason: String
        var schedule: ScheduleInput
    }

    struct MarkPaidRequest: Decodable { var note: String }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.post("plans") { request, context -> EditedResponse<PlanBody> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .finance], to: "creating a payment plan")
            let input = try await RequestInput.body(
                CreateRequest.self, from: request, allowed: ["invoice_id", "customer_ref", "provider", "currency", "total_minor", "reason", "schedule"])
            let subject = try Self.subject(input)
            let schedule = try Self.schedule(input.schedule)
            let reason = try RequestInput.text(input.reason, field: "reason", maxCharacters: 200)
            let org = try principal.tenant()
            let plan = try await queries.inTenant(org) { connection in
                let plan = try Self.answer(try await desk.create(subject, schedule: schedule, reason: reason, by: principal.subject, on: connection))
                try await audit.record(
                    org: org, actor: principal.subject, action: "plan.create", target: "plan:\(plan.id)", before: PlanBody?.none, after: PlanBody(plan),
                    correlationID: context.correlationID, on: connection, logger: logger)
                return plan
            }
            return EditedResponse(status: .created, response: PlanBody(plan))
        }
        admin.get("plans") { request, context -> PlanList in
            let org = try context.requirePrincipal().tenant()
            let after = try request.queryText("after", maxCharacters: 100)
            if let after, !Self.isPlanID(after) { throw RequestInput.invalid("after", "must be a next_cursor this API returned") }
            let limit = try RequestInput.limit(request)
            let found = try await queries.inTenant(org) { try await PlanStore(schema: queries.schema, connection: $0, logger: logger).plans(after: after, limit: limit) }
            return PlanList(plans: found.map(PlanBody.init), nextCursor: found.count == limit ? found.last?.id : nil)
        }
        admin.get("plans/{id}") { _, context -> PlanBody in
            let org = try context.requirePrincipal().tenant()
            let id = try Self.planID(context)
            guard let plan = try await queries.inTenant(org, { try await PlanStore(schema: queries.schema, connection: $0, logger: logger).plan(id: id) }) else {
                throw Problem.notFound("no payment plan \(id) in this org")
            }
            return PlanBody(plan)
        }
        admin.post("plans/{id}/renegotiate") { request, context -> PlanRenegotiation in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .finance], to: "renegotiating a payment plan")
            let input = try await RequestInput.body(RenegotiateRequest.self, from: request, allowed: ["reason", "schedule"])
            guard let reason = try RequestInput.text(input.reason, field: "reason", maxCharacters: 200) else { throw RequestInput.invalid("reason", "must be 1 to 200 characters") }
            let schedule = try Self.schedule(input.schedule)
            let org = try principal.tenant()
            let id = try Self.planID(context)
            return try await queries.inTenant(org) { connection in
                let changed = try Self.answer(try await desk.renegotiate(planID: id, schedule: schedule, reason: reason, by: principal.subject, on: connection))
                let answer = PlanRenegotiation(renegotiated: PlanBody(changed.old), plan: PlanBody(changed.new))
                try await audit.record(
                    org: org, actor: principal.subject, action: "plan.renegotiate", target: "plan:\(id)", before: PlanBody(changed.before), after: answer,
                    correlationID: context.correlationID, on: connection, logger: logger)
                return answer
            }
        }
        admin.post("plans/{id}/installments/{number}/mark-paid") { request, context -> PlanBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .finance], to: "marking an installment paid")
            let input = try await RequestInput.body(MarkPaidRequest.self, from: request, allowed: ["note"])
            guard let note = try RequestInput.text(input.note, field: "note", maxCharacters: 200) else { throw RequestInput.invalid("note", "must be 1 to 200 characters") }
            let org = try principal.tenant()
            let id = try Self.planID(context)
            guard let number = context.parameters.get("number").flatMap(Int.init), (1...120).contains(number) else {
                throw Problem.notFound("no such installment in this plan")
            }
            return try await queries.inTenant(org) { connection in
                let changed = try Self.answer(
                    try await desk.markPaid(planID: id, number: number, note: note, by: principal.subject, org: org, correlationID: context.correlationID, on: connection))
                try await audit.record(
                    org: org, actor: principal.subject, action: "installment.mark_paid", target: "plan:\(id):\(number)", before: PlanBody(changed.before),
                    after: PlanBody(changed.after), correlationID: context.correlationID, on: connection, logger: logger)
                return PlanBody(changed.after)
            }
        }
        admin.get("installments/overdue") { request, context -> OverdueList in
            let org = try context.requirePrincipal().tenant()
            let minDays = try request.queryInteger("min_days", default: 0, range: 0...3650)
            let limit = try RequestInput.limit(request)
            let time = now()
            let rows = try await queries.inTenant(org) { connection in
                try await PlanStore(schema: queries.schema, connection: connection, logger: logger).overdue(minDays: minDays, now: time, after: nil, limit: limit)
            }
            return OverdueList(
                minDays: minDays,
                installments: rows.map { row in
                    OverdueList.Row(
                        planID: row.planID, invoiceID: row.invoiceID, number: row.installment.number, of: row.installmentCount, customerRef: row.customerRef,
                        dueOn: ExportPeriod.day(row.installment.dueOn), daysLate: PlanRules.daysLate(dueOn: row.installment.dueOn, now: time),
                        amountMinor: row.installment.amountMinor, currency: row.currency.rawValue, reference: row.installment.reference)
                })
        }
        admin.get("receivables") { _, context -> ReceivablesBody in
            let org = try context.requirePrincipal().tenant()
            let time = now()
            let items = try await queries.inTenant(org) { try await PlanStore(schema: queries.schema, connection: $0, logger: logger).receivables() }
            return ReceivablesBody(ReceivablesReport(items: items, now: time), asOf: time)
        }
    }

    // MARK: Input

    private static func subject(_ input: CreateRequest) throws -> PlanDesk.Subject {
        if let invoiceID = try RequestInput.text(input.invoiceID, field: "invoice_id", maxCharacters: 100) {
            guard input.customerRef == nil, input.currency == nil, input.totalMinor == nil, input.provider == nil else {
                throw RequestInput.invalid("invoice_id", "takes the customer, currency and total from the invoice; leave customer_ref, provider, currency and total_minor out")
            }
            return .invoice(invoiceID)
        }
        guard let customer = try RequestInput.text(input.customerRef, field: "customer_ref", maxCharacters: 200) else {
            throw RequestInput.invalid("customer_ref", "is required without invoice_id")
        }
        guard let code = input.currency, let currency = CurrencyCode(rawValue: code) else { throw RequestInput.invalid("currency", "must be an ISO 4217 code such as USD") }
        guard let total = input.totalMinor, total > 0 else { throw RequestInput.invalid("total_minor", "must be greater than 0") }
        let provider = try input.provider.map { text throws(Problem) in
            guard let provider = WebhookProvider(rawValue: text) else {
                throw RequestInput.invalid("provider", "must be one of \(WebhookProvider.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return provider
        }
        return .customer(ref: customer, provider: provider ?? .internal, amount: Money(amountMinor: total, currency: currency))
    }

    private static func schedule(_ input: ScheduleInput) throws -> ScheduleRequest {
        func day(_ text: String?, _ field: String) throws -> Date {
            guard let text, let date = ExportPeriod.parseDay(text) else { throw RequestInput.invalid(field, "must be a UTC day YYYY-MM-DD") }
            return date
        }
        if let items = input.installments {
            guard input.count == nil, input.firstDueOn == nil, input.intervalDays == nil, input.remainderOn == nil else {
                throw RequestInput.invalid("schedule.installments", "is an explicit schedule; leave count, first_due_on, interval_days and remainder_on out")
            }
            guard (1...120).contains(items.count) else { throw RequestInput.invalid("schedule.installments", "must hold 1 to 120 installments") }
            return .explicit(
                try items.enumerated().map { index, item in
                    guard item.amountMinor > 0 else { throw RequestInput.invalid("schedule.installments[\(index)].amount_minor", "must be greater than 0") }
                    return (try day(item.dueOn, "schedule.installments[\(index)].due_on"), item.amountMinor)
                })
        }
        guard let count = input.count, (1...120).contains(count) else { throw RequestInput.invalid("schedule.count", "must be 1 to 120 (or give installments)") }
        let interval = input.intervalDays ?? 30
        guard (1...366).contains(interval) else { throw RequestInput.invalid("schedule.interval_days", "must be 1 to 366") }
        let remainder = try input.remainderOn.map { text throws(Problem) in
            guard let placement = RemainderPlacement(rawValue: text) else { throw RequestInput.invalid("schedule.remainder_on", "must be first or last") }
            return placement
        }
        return .even(count: count, firstDue: try day(input.firstDueOn, "schedule.first_due_on"), intervalDays: interval, remainder: remainder ?? .first)
    }

    private static func planID(_ context: ServiceRequestContext) throws -> String {
        guard let id = context.parameters.get("id"), isPlanID(id) else { throw Problem.notFound("no such payment plan in this org") }
        return id
    }

    static func isPlanID(_ text: String) -> Bool {
        text.hasPrefix("pln_") && text.count == 36 && text.dropFirst(4).allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    private static func answer<T>(_ result: Result<T, PlanDesk.Failure>) throws -> T {
        switch result {
        case .success(let value): return value
        case .failure(.unknownInvoice): throw Problem.notFound("no such invoice in this org")
        case .failure(.unknownPlan): throw Problem.notFound("no such payment plan in this org")
        case .failure(.invoiceNotOpen(let status)):
            throw Problem(type: "invoice-not-open", title: "Invoice not open", status: .conflict, detail: "the invoice is \(status.rawValue) with nothing outstanding")
        case .failure(.invoiceHasPlan(let plan)):
            throw Problem(type: "invoice-has-plan", title: "Invoice has a plan", status: .conflict, detail: "plan \(plan) is active for this invoice; renegotiate it")
        case .failure(.customerRequired): throw RequestInput.invalid("customer_ref", "is required without invoice_id")
        case .failure(.refused(let refusal)):
            switch refusal {
            case .notActive, .notOpen, .nothingOpen:
                throw Problem(type: "plan-state", title: "Plan cannot change so", status: .conflict, detail: refusal.description)
            case .mustCover(let expected, _):
                throw Problem(
                    type: "schedule-must-cover", title: "Schedule does not cover the amount", status: .conflict, detail: refusal.description,
                    extensions: ["field": "schedule", "expected_minor": "\(expected)"])
            case .tooSmall:
                throw Problem(
                    type: "schedule-must-cover", title: "Schedule does not cover the amount", status: .conflict, detail: refusal.description,
                    extensions: ["field": "schedule.count"])
            case .count, .interval, .amount:
                throw RequestInput.invalid("schedule", refusal.description)
            }
        }
    }
}

struct PlanBody: Encodable, ResponseEncodable, Sendable {
    struct Item: Encodable, Sendable {
        var number: Int
        var dueOn: String
        var amountMinor: Int64
        var reference: String
        var status: String
        var paidAt: String?
        var paidBy: String?
        var paymentID: String?
        var note: String?
        enum CodingKeys: String, CodingKey {
            case number, dueOn = "due_on", amountMinor = "amount_minor", reference, status, paidAt = "paid_at", paidBy = "paid_by", paymentID = "payment_id", note
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(number, forKey: .number)
            try container.encode(dueOn, forKey: .dueOn)
            try container.encode(amountMinor, forKey: .amountMinor)
            try container.encode(reference, forKey: .reference)
            try container.encode(status, forKey: .status)
            try container.encode(paidAt, forKey: .paidAt)
            try container.encode(paidBy, forKey: .paidBy)
            try container.encode(paymentID, forKey: .paymentID)
            try container.encode(note, forKey: .note)
        }
    }
    var id: String
    var invoiceID: String?
    var customerRef: String?
    var currency: String
    var totalMinor: Int64
    var openMinor: Int64
    var status: String
    var replacesPlanID: String?
    var reason: String?
    var createdAt: String
    var createdBy: String
    var installments: [Item]
    enum CodingKeys: String, CodingKey {
        case id, invoiceID = "invoice_id", customerRef = "customer_ref", currency, totalMinor = "total_minor", openMinor = "open_minor", status
        case replacesPlanID = "replaces_plan_id", reason, createdAt = "created_at", createdBy = "created_by", installments
    }

    init(_ plan: PaymentPlan) {
        id = plan.id
        invoiceID = plan.invoiceID
        customerRef = plan.customerRef
        currency = plan.currency.rawValue
        totalMinor = plan.totalMinor
        openMinor = plan.openMinor
        status = plan.status.rawValue
        replacesPlanID = plan.replacesPlanID
        reason = plan.reason
        createdAt = RFC3339.string(plan.createdAt)
        createdBy = plan.createdBy
        installments = plan.installments.map {
            Item(
                number: $0.number, dueOn: ExportPeriod.day($0.dueOn), amountMinor: $0.amountMinor, reference: $0.reference, status: $0.status.rawValue,
                paidAt: $0.paidAt.map(RFC3339.string), paidBy: $0.paidBy, paymentID: $0.payment?.paymentID, note: $0.note)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(invoiceID, forKey: .invoiceID)
        try container.encode(customerRef, forKey: .customerRef)
        try container.encode(currency, forKey: .currency)
        try container.encode(totalMinor, forKey: .totalMinor)
        try container.encode(openMinor, forKey: .openMinor)
        try container.encode(status, forKey: .status)
        try container.encode(replacesPlanID, forKey: .replacesPlanID)
        try container.encode(reason, forKey: .reason)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(createdBy, forKey: .createdBy)
        try container.encode(installments, forKey: .installments)
    }
}

struct PlanList: Encodable, ResponseEncodable, Sendable {
    var plans: [PlanBody]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case plans, nextCursor = "next_cursor" }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(plans, forKey: .plans)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

struct PlanRenegotiation: Encodable, ResponseEncodable, Sendable {
    /// The plan as it is now: renegotiated, its open installments kept as `renegotiated`.
    var renegotiated: PlanBody
    /// The plan that replaces it.
    var plan: PlanBody
}

struct OverdueList: Encodable, ResponseEncodable, Sendable {
    struct Row: Encodable, Sendable {
        var planID: String
        var invoiceID: String?
        var number: Int
        var of: Int
        var customerRef: String?
        var dueOn: String
        var daysLate: Int
        var amountMinor: Int64
        var currency: String
        var reference: String
        enum CodingKeys: String, CodingKey {
            case planID = "plan_id", invoiceID = "invoice_id", number, of, customerRef = "customer_ref", dueOn = "due_on", daysLate = "days_late"
            case amountMinor = "amount_minor", currency, reference
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(planID, forKey: .planID)
            try container.encode(invoiceID, forKey: .invoiceID)
            try container.encode(number, forKey: .number)
            try container.encode(of, forKey: .of)
            try container.encode(customerRef, forKey: .customerRef)
            try container.encode(dueOn, forKey: .dueOn)
            try container.encode(daysLate, forKey: .daysLate)
            try container.encode(amountMinor, forKey: .amountMinor)
            try container.encode(currency, forKey: .currency)
            try container.encode(reference, forKey: .reference)
        }
    }
    var minDays: Int
    var installments: [Row]
    enum CodingKeys: String, CodingKey { case minDays = "min_days", installments }
}

struct ReceivablesBody: Encodable, ResponseEncodable, Sendable {
    struct Aging: Encodable, Sendable {
        var currency: String
        var current: Int64
        var days1to30: Int64
        var days31to60: Int64
        var days61to90: Int64
        var days90plus: Int64
        var totalMinor: Int64
        enum CodingKeys: String, CodingKey {
            case currency, current = "current_minor", days1to30 = "days_1_30_minor", days31to60 = "days_31_60_minor", days61to90 = "days_61_90_minor"
            case days90plus = "days_90_plus_minor", totalMinor = "total_minor"
        }
    }
    struct Priority: Encodable, Sendable {
        var rank: Int
        var customerRef: String
        var currency: String
        var owedMinor: Int64
        var daysOverdue: Int
        var score: Int64
        var items: Int
        enum CodingKeys: String, CodingKey {
            case rank, customerRef = "customer_ref", currency, owedMinor = "owed_minor", daysOverdue = "days_overdue", score, items
        }
    }
    var asOf: String
    var aging: [Aging]
    var priority: [Priority]
    enum CodingKeys: String, CodingKey { case asOf = "as_of", aging, priority }

    init(_ report: ReceivablesReport, asOf: Date) {
        self.asOf = RFC3339.string(asOf)
        aging = report.aging.map { row in
            Aging(
                currency: row.currency.rawValue, current: row.byBucket[.current] ?? 0, days1to30: row.byBucket[.days1to30] ?? 0,
                days31to60: row.byBucket[.days31to60] ?? 0, days61to90: row.byBucket[.days61to90] ?? 0, days90plus: row.byBucket[.days90plus] ?? 0,
                totalMinor: row.totalMinor)
        }
        priority = report.priority.prefix(200).enumerated().map { index, row in
            Priority(
                rank: index + 1, customerRef: row.customerRef, currency: row.currency.rawValue, owedMinor: row.owedMinor, daysOverdue: row.daysOverdue,
                score: row.score, items: row.items)
        }
    }
}
