import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO
import ServiceRuntime
import Storage

/// Admin routes of invoices under `/admin/orgs/{org}/…` and the customer's signed document at
/// `/invoices/{id}.html`. Issuing, voiding, crediting, reconciling, sending links and changing
/// the settings take owner, admin or finance (reconcile and credit notes: owner or finance);
/// every role reads. Each change is audited in its own transaction.
struct InvoiceRoutes: Sendable {
    let queries: FinanceQueries
    let desk: InvoiceDesk
    let links: InvoiceLinks
    let audit: AuditLog
    let logger: Logger
    let now: @Sendable () -> Date

    struct IssueRequest: Decodable {
        var paymentID: String
        var provider: String?
        enum CodingKeys: String, CodingKey { case paymentID = "payment_id", provider }
    }

    struct LinkRequest: Decodable {
        var expiresInHours: Int?
        var send: Bool?
        var locale: String?
        enum CodingKeys: String, CodingKey { case expiresInHours = "expires_in_hours", send, locale }
    }

    struct VoidRequest: Decodable { var reason: String }

    struct CreditRequest: Decodable {
        var refundKey: String?
        var reason: String?
        enum CodingKeys: String, CodingKey { case refundKey = "refund_key", reason }
    }

    func add(root: Router<ServiceRequestContext>, admin: RouterGroup<ServiceRequestContext>) {
        addSettings(admin)
        addInvoices(admin)
        addChanges(admin)
        root.get("invoices/{id}.html") { request, context -> Response in try await publicDocument(request, context) }
    }

    // MARK: Settings

    private func addSettings(_ admin: RouterGroup<ServiceRequestContext>) {
        admin.get("invoice-settings") { _, context -> InvoiceSettingsBody in
            let org = try context.requirePrincipal().tenant()
            let settings = try await queries.inTenant(org) { try await store($0).settings() }
            return InvoiceSettingsBody(taxRateBps: settings.taxRateBps, paymentTermsDays: settings.paymentTermsDays)
        }
        admin.put("invoice-settings") { request, context -> InvoiceSettingsBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .finance], to: "changing the invoice settings")
            let input = try await RequestInput.body(InvoiceSettingsBody.self, from: request, allowed: ["tax_rate_bps", "payment_terms_days"])
            guard (0...10_000).contains(input.taxRateBps) else { throw RequestInput.invalid("tax_rate_bps", "must be 0 to 10000 basis points") }
            guard (0...365).contains(input.paymentTermsDays) else { throw RequestInput.invalid("payment_terms_days", "must be 0 to 365 days") }
            let org = try principal.tenant()
            let after = InvoiceSettings(taxRateBps: input.taxRateBps, paymentTermsDays: input.paymentTermsDays)
            try await queries.inTenant(org) { connection in
                let before = try await store(connection).settings()
                try await store(connection).save(after, by: principal.subject, at: LedgerSeal.truncated(now()))
                try await audit.record(
                    org: org, actor: principal.subject, action: "invoice_settings.update", target: "invoice_settings", before: before, after: after,
                    correlationID: context.correlationID, on: connection, logger: logger)
            }
            return input
        }
    }

    // MARK: Reads

    private func addInvoices(_ admin: RouterGroup<ServiceRequestContext>) {
        admin.get("invoices") { request, context -> InvoiceList in
            let org = try context.requirePrincipal().tenant()
            let status = try request.queryText("status", maxCharacters: 20).map { text throws(Problem) in
                guard let status = InvoiceStatus(rawValue: text) else {
                    throw RequestInput.invalid("status", "must be one of \(InvoiceStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return status
            }
            let after = try Self.invoiceCursor(request)
            let limit = try RequestInput.limit(request)
            let found = try await queries.inTenant(org) { connection in
                try await store(connection).invoices(
                    where: "($1::text IS NULL OR i.status = $1) AND ($2::text IS NULL OR i.id > $2)", [.text(status?.rawValue), .text(after)], order: "i.id",
                    limit: limit)
            }
            return InvoiceList(invoices: found.map { InvoiceBody($0) }, nextCursor: found.count == limit ? found.last?.id : nil)
        }
        admin.get("invoices/{id}") { _, context -> InvoiceBody in
            let org = try context.requirePrincipal().tenant()
            let (invoice, payments, notes) = try await document(org: org, id: try Self.id(context))
            return InvoiceBody(invoice, payments: payments, creditNotes: notes)
        }
        admin.get("invoices/{id}.html") { _, context -> Response in
            let org = try context.requirePrincipal().tenant()
            let (invoice, payments, notes) = try await document(org: org, id: try Self.id(context))
            return Self.html(InvoiceDocument.html(invoice, payments: payments, creditNotes: notes))
        }
        admin.get("provider-invoices") { request, context -> ProviderInvoiceList in
            let org = try context.requirePrincipal().tenant()
            let after = try request.queryText("after", maxCharacters: 300)
            if let after, WebhookProvider(rawValue: String(after.prefix { $0 != ":" })) == nil || !after.contains(":") {
                throw RequestInput.invalid("after", "must be a next_cursor this API returned")
            }
            let limit = try RequestInput.limit(request)
            let found = try await queries.inTenant(org) { try await store($0).providerInvoices(after: after, limit: limit) }
            return ProviderInvoiceList(
                invoices: found.map {
                    ProviderInvoiceList.Row(
                        provider: $0.provider.rawValue, invoiceID: $0.invoiceID, number: $0.number, status: $0.status, subscriptionRef: $0.subscriptionRef,
                        customerRef: $0.customerRef, amountMinor: $0.amount.amountMinor, currency: $0.amount.currency.rawValue, paymentRef: $0.paymentRef,
                        attemptCount: $0.attemptCount, occurredAt: RFC3339.string($0.occurredAt))
                }, nextCursor: found.count == limit ? found.last.map { "\($0.provider.rawValue):\($0.invoiceID)" } : nil)
        }
        admin.get("reconcile/invoices") { request, context -> InvoiceMismatchList in
            let org = try context.requirePrincipal().tenant()
            let scope = try request.queryText("status", maxCharacters: 20) ?? "mismatch"
            guard ["mismatch", "all"].contains(scope) else { throw RequestInput.invalid("status", "must be mismatch or all") }
            let after = try Self.invoiceCursor(request)
            let limit = try RequestInput.limit(request)
            let (rows, next) = try await queries.inTenant(org) { connection in
                try await store(connection).reconcileRows(onlyMismatches: scope == "mismatch", after: after, limit: limit, now: now())
            }
            return InvoiceMismatchList(
                invoices: rows.map { row in
                    InvoiceMismatchList.Row(
                        invoiceID: row.invoice.id, number: row.invoice.number, status: row.invoice.status.rawValue, expectedStatus: row.expectedStatus.rawValue,
                        totalMinor: row.invoice.snapshot.totalMinor, paidMinor: row.invoice.paidMinor, ledgerPaidMinor: row.ledgerPaidMinor,
                        currency: row.invoice.currency.rawValue, paymentCount: row.ledgerPaymentCount, lastPaymentAt: row.lastPaymentAt.map(RFC3339.string),
                        mismatch: row.expectedStatus != row.invoice.status || row.ledgerPaidMinor != row.invoice.paidMinor,
                        reconcileURL: "/admin/orgs/\(org.rawValue)/invoices/\(row.invoice.id)/reconcile")
                }, nextCursor: next)
        }
    }

    // MARK: Changes

    private func addChanges(_ admin: RouterGroup<ServiceRequestContext>) {
        admin.post("invoices") { request, context -> EditedResponse<InvoiceBody> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .finance], to: "issuing an invoice")
            let input = try await RequestInput.body(IssueRequest.self, from: request, allowed: ["payment_id", "provider"])
            guard let paymentID = try RequestInput.text(input.paymentID, field: "payment_id", maxCharacters: 200) else {
                throw RequestInput.invalid("payment_id", "must be 1 to 200 characters")
            }
            let org = try principal.tenant()
            let key = try await paymentKey(org: org, paymentID: paymentID, provider: input.provider)
            let cause = desk.personCause(org: org, action: "invoice.issue", subject: principal.subject, correlationID: context.correlationID, now: now())
            let (invoice, created) = try await queries.inTenant(org) { connection in
                switch try await desk.issue(payment: key, cause: cause, on: connection) {
                case .success(let issued):
                    if issued.created {
                        try await audit.record(
                            org: org, actor: principal.subject, action: "invoice.issue", target: "invoice:\(issued.invoice.id)", before: InvoiceBody?.none,
                            after: InvoiceBody(issued.invoice), correlationID: context.correlationID, on: connection, logger: logger)
                    }
                    return (issued.invoice, issued.created)
                case .failure(let failure): throw Self.problem(failure)
                }
            }
            return EditedResponse(status: created ? .created : .ok, response: InvoiceBody(invoice))
        }
        admin.post("invoices/{id}/link") { request, context -> InvoiceLinkBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .finance, .support], to: "sending an invoice link")
            let input = try await RequestInput.optionalBody(LinkRequest.self, from: request, allowed: ["expires_in_hours", "send", "locale"])
            let hours = input?.expiresInHours ?? InvoiceLinks.defaultLifetimeHours
            guard InvoiceLinks.lifetimes.contains(hours) else { throw RequestInput.invalid("expires_in_hours", "must be 1 to \(InvoiceLinks.lifetimes.upperBound)") }
            let locale = try RequestInput.text(input?.locale, field: "locale", maxCharacters: 20)
            let org = try principal.tenant()
            let id = try Self.id(context)
            let expires = Date(timeIntervalSince1970: (now().timeIntervalSince1970 + Double(hours) * 3600).rounded(.down))
            return try await queries.inTenant(org) { connection in
                guard let invoice = try await store(connection).invoice(id: id) else { throw Problem.notFound("no invoice \(id) in this org") }
                let url = links.url(org: org, invoiceID: invoice.id, expires: expires)
                var dedupeKey: String?
                if input?.send ?? true {
                    guard let customer = invoice.customerRef else {
                        throw Problem(
                            type: "invoice-has-no-customer", title: "Invoice has no customer", status: .conflict,
                            detail: "invoice \(invoice.number) names no customer to send the link to; send false returns the link only",
                            extensions: ["field": "send"])
                    }
                    let message = try InvoiceLinkNotice.message(
                        invoice: invoice, customerRef: customer, url: url, expires: expires, locale: locale, tenant: org, correlationID: context.correlationID, now: now())
                    try await PostgresFinanceStore(schema: queries.schema, connection: connection, logger: logger).enqueue(message.outbox)
                    dedupeKey = message.dedupeKey
                }
                let answer = InvoiceLinkBody(url: url, expiresAt: RFC3339.string(expires), sent: dedupeKey != nil, dedupeKey: dedupeKey)
                try await audit.record(
                    org: org, actor: principal.subject, action: "invoice.link", target: "invoice:\(invoice.id)", before: InvoiceLinkBody?.none,
                    after: InvoiceLinkBody(url: "[signed link]", expiresAt: answer.expiresAt, sent: answer.sent, dedupeKey: dedupeKey),
                    correlationID: context.correlationID, on: connection, logger: logger)
                return answer
            }
        }
        admin.post("invoices/{id}/void") { request, context -> InvoiceBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .finance], to: "voiding an invoice")
            let input = try await RequestInput.body(VoidRequest.self, from: request, allowed: ["reason"])
            guard let reason = try RequestInput.text(input.reason, field: "reason", maxCharacters: 200) else { throw RequestInput.invalid("reason", "must be 1 to 200 characters") }
            let org = try principal.tenant()
            let id = try Self.id(context)
            let cause = desk.personCause(org: org, action: "invoice.void", subject: principal.subject, correlationID: context.correlationID, now: now())
            return try await queries.inTenant(org) { connection in
                guard let before = try await store(connection).invoice(id: id, lock: true) else { throw Problem.notFound("no invoice \(id) in this org") }
                switch try await desk.void(invoiceID: id, reason: reason, cause: cause, on: connection) {
                case nil: throw Problem.notFound("no invoice \(id) in this org")
                case .failure(.alreadyVoid):
                    throw Problem(type: "invoice-void", title: "Invoice already void", status: .conflict, detail: "invoice \(before.number) is already void")
                case .failure(.hasPlan(let plan)):
                    throw Problem(
                        type: "invoice-has-plan", title: "Invoice has a plan", status: .conflict,
                        detail: "plan \(plan) is collecting invoice \(before.number); renegotiate or settle it first")
                case .failure(.hasPayments(let paid)):
                    throw Problem(
                        type: "invoice-has-payments", title: "Invoice has payments", status: .conflict,
                        detail: "invoice \(before.number) has \(paid) minor units paid; refund and credit it instead")
                case .success(let after):
                    try await audit.record(
                        org: org, actor: principal.subject, action: "invoice.void", target: "invoice:\(id)", before: InvoiceBody(before), after: InvoiceBody(after),
                        correlationID: context.correlationID, on: connection, logger: logger)
                    return InvoiceBody(after)
                }
            }
        }
        admin.post("invoices/{id}/credit-notes") { request, context -> EditedResponse<CreditNoteAnswer> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .finance], to: "creating a credit note")
            let input = try await RequestInput.optionalBody(CreditRequest.self, from: request, allowed: ["refund_key", "reason"])
            let refundKey = try RequestInput.text(input?.refundKey, field: "refund_key", maxCharacters: 300)
            let reason = try RequestInput.text(input?.reason, field: "reason", maxCharacters: 200)
            let org = try principal.tenant()
            let id = try Self.id(context)
            let cause = desk.personCause(org: org, action: "invoice.credit", subject: principal.subject, correlationID: context.correlationID, now: now())
            let answer = try await queries.inTenant(org) { connection in
                guard let before = try await store(connection).invoice(id: id, lock: true) else { throw Problem.notFound("no invoice \(id) in this org") }
                switch try await desk.creditNote(invoiceID: id, refundKey: refundKey, reason: reason, by: principal.subject, cause: cause, on: connection) {
                case nil: throw Problem.notFound("no invoice \(id) in this org")
                case .failure(let refusal): throw Self.problem(refusal)
                case .success(let (after, note)):
                    try await audit.record(
                        org: org, actor: principal.subject, action: "invoice.credit_note", target: "invoice:\(id)", before: InvoiceBody(before),
                        after: CreditNoteAnswer(creditNote: CreditNoteBody(note), invoice: InvoiceBody(after)), correlationID: context.correlationID, on: connection,
                        logger: logger)
                    return CreditNoteAnswer(creditNote: CreditNoteBody(note), invoice: InvoiceBody(after))
                }
            }
            return EditedResponse(status: .created, response: answer)
        }
        admin.post("invoices/{id}/reconcile") { _, context -> InvoiceReconcileBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .finance], to: "reconciling an invoice")
            let org = try principal.tenant()
            let id = try Self.id(context)
            let cause = desk.personCause(org: org, action: "invoice.reconcile", subject: principal.subject, correlationID: context.correlationID, now: now())
            return try await queries.inTenant(org) { connection in
                guard let reconciled = try await desk.reconcile(id: id, cause: cause, on: connection) else { throw Problem.notFound("no invoice \(id) in this org") }
                let (invoice, decision) = reconciled
                try await audit.record(
                    org: org, actor: principal.subject, action: "invoice.reconcile", target: "invoice:\(id)", before: decision.before, after: decision.after,
                    correlationID: context.correlationID, on: connection, logger: logger)
                return InvoiceReconcileBody(invoice: InvoiceBody(invoice), changed: decision.changed, before: decision.before, after: decision.after)
            }
        }
    }

    // MARK: The customer's document

    private func publicDocument(_ request: Request, _ context: ServiceRequestContext) async throws -> Response {
        let refused = Problem(type: "invalid-link", title: "Invalid link", status: .forbidden, detail: "this invoice link is not valid")
        guard let id = try? RequestInput.text(context.parameters.get("id"), field: "id", maxCharacters: 100),
            let org = try? request.queryText("org", maxCharacters: 100), let tenant = TenantID(rawValue: org),
            let expiresText = try? request.queryText("expires", maxCharacters: 20), let expires = Int64(expiresText),
            let signature = try? request.queryText("signature", maxCharacters: 64)
        else { throw refused }
        switch links.check(org: org, invoiceID: id, expires: expires, signature: signature, now: now()) {
        case .badSignature: throw refused
        case .expired: throw Problem(type: "link-expired", title: "Link expired", status: .gone, detail: "this invoice link has expired; ask for a new one")
        case nil: break
        }
        let (invoice, payments, notes) = try await document(org: tenant, id: id)
        return Self.html(InvoiceDocument.html(invoice, payments: payments, creditNotes: notes))
    }

    // MARK: Helpers

    private func store(_ connection: PostgresConnection) -> InvoiceStore { InvoiceStore(schema: queries.schema, connection: connection, logger: logger) }

    private func document(org: TenantID, id: String) async throws -> (Invoice, [InvoicePayment], [CreditNote]) {
        try await queries.inTenant(org) { connection in
            let invoices = store(connection)
            guard let invoice = try await invoices.invoice(id: id) else { throw Problem.notFound("no invoice \(id) in this org") }
            return (invoice, try await invoices.payments(of: id), try await invoices.creditNotes(of: id))
        }
    }

    private func paymentKey(org: TenantID, paymentID: String, provider: String?) async throws -> PaymentKey {
        if let provider {
            guard let known = WebhookProvider(rawValue: provider) else {
                throw RequestInput.invalid("provider", "must be one of \(WebhookProvider.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return PaymentKey(provider: known, paymentID: paymentID)
        }
        let found = try await queries.payments(org: org, id: paymentID)
        guard let only = found.first else { throw Problem.notFound("no such payment in this org") }
        guard found.count == 1 else {
            throw Problem(
                type: "ambiguous-payment", title: "Ambiguous payment", status: .conflict,
                detail: "payments with this id exist at \(found.map(\.provider.rawValue).joined(separator: ", ")); name the provider")
        }
        return only
    }

    /// The `after` of an invoice list: an invoice id (`inv_` and 32 hex digits) or nothing.
    private static func invoiceCursor(_ request: Request) throws -> String? {
        guard let after = try request.queryText("after", maxCharacters: 100) else { return nil }
        guard after.hasPrefix("inv_"), after.count == 36, after.dropFirst(4).allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw RequestInput.invalid("after", "must be a next_cursor this API returned")
        }
        return after
    }

    /// The invoice id in the path; one no invoice could have is unknown: 404.
    private static func id(_ context: ServiceRequestContext) throws -> String {
        guard let id = try? RequestInput.text(context.parameters.get("id"), field: "id", maxCharacters: 100) else { throw Problem.notFound("no such invoice in this org") }
        return id
    }

    private static func html(_ page: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "private, no-store",
                HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; style-src 'unsafe-inline'", HTTPField.Name("Referrer-Policy")!: "no-referrer",
                HTTPField.Name("X-Robots-Tag")!: "noindex",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: page)))
    }

    private static func problem(_ failure: InvoiceDesk.IssueFailure) -> Problem {
        switch failure {
        case .unknownPayment: Problem.notFound("no such payment in this org")
        case .paymentNotCaptured:
            Problem(type: "payment-not-captured", title: "Payment not captured", status: .conflict, detail: "only a captured payment can be invoiced")
        case .paymentHasItsInvoice(let what):
            Problem(type: "payment-has-invoice", title: "Payment has its invoice", status: .conflict, detail: "the payment belongs to \(what), which is its invoice")
        case .lines(let error): Problem(type: "invoice-lines-invalid", title: "Invoice lines invalid", status: .unprocessableContent, detail: error.description)
        }
    }

    private static func problem(_ refusal: CreditNoteRefusal) -> Problem {
        switch refusal {
        case .invoiceVoid: Problem(type: "invoice-void", title: "Invoice void", status: .conflict, detail: refusal.description)
        case .noRefund: Problem(type: "no-refund-to-credit", title: "No refund to credit", status: .conflict, detail: refusal.description, extensions: ["field": "refund_key"])
        case .refundOfOverpayment:
            Problem(type: "refund-of-overpayment", title: "Refund of an overpayment", status: .conflict, detail: refusal.description, extensions: ["field": "refund_key"])
        case .refundAlreadyCredited:
            Problem(type: "refund-already-credited", title: "Refund already credited", status: .conflict, detail: refusal.description, extensions: ["field": "refund_key"])
        case .exceedsInvoice(_, let creditable):
            Problem(
                type: "credit-exceeds-invoice", title: "Credit exceeds the invoice", status: .conflict, detail: refusal.description,
                extensions: ["creditable_minor": "\(creditable)"])
        }
    }
}
