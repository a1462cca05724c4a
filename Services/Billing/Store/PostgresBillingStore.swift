import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// A stored value that does not read back: a bug or a hand-edited row, never outside input.
struct UnreadableRow: Error, CustomStringConvertible {
    var table: String
    var reason: String
    var description: String { "\(table): \(reason)" }
}

/// The billing schema's SQL for handlers, jobs and commands, on a connection whose transaction
/// set the org (`setTenant`). Every row written carries that org; RLS keeps other orgs out.
struct PostgresBillingStore: BillingStore {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger

    private var s: String { schema.name }

    // MARK: Subscriptions

    func subscription(_ reference: SubscriptionReference) async throws -> StoredSubscription? {
        let rows = try await connection.query(
            """
            SELECT id, projection::text, entitlement::text, entitlement_revision FROM \(unescaped: s).subscriptions
            WHERE provider = \(reference.provider.rawValue) AND subscription_id = \(reference.subscriptionID) FOR UPDATE
            """, logger: logger)
        for try await (id, projection, entitlement, revision) in rows.decode((UUID, String, String, Int64).self) {
            return try SubscriptionRows.stored(id: id, projection: projection, entitlement: entitlement, revision: revision)
        }
        return nil
    }

    func save(_ subscription: StoredSubscription, change: SubscriptionChange, causeEventID: String?, actor: String?, at time: Date) async throws {
        let projection = try SubscriptionRows.json(subscription.projection)
        let entitlement = try subscription.entitlement.map(SubscriptionRows.json) ?? "null"
        let reference = subscription.projection.reference
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).subscriptions
                (org_id, id, provider, subscription_id, projection, entitlement, entitlement_revision, created_at, updated_at)
            VALUES (current_setting('tally.org_id', true), \(subscription.id), \(reference.provider.rawValue), \(reference.subscriptionID), \(projection)::jsonb,
                    \(entitlement)::jsonb, \(subscription.entitlementRevision), \(time), \(time))
            ON CONFLICT (org_id, provider, subscription_id) DO UPDATE SET
                projection = EXCLUDED.projection, entitlement = EXCLUDED.entitlement, entitlement_revision = EXCLUDED.entitlement_revision,
                updated_at = EXCLUDED.updated_at
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).subscription_history (org_id, subscription, kind, change, cause_event_id, actor, recorded_at)
            VALUES (current_setting('tally.org_id', true), \(subscription.id), \(change.kind), \(try SubscriptionRows.json(change))::jsonb, \(causeEventID),
                    \(actor), \(time))
            """, logger: logger)
    }

    /// Writes a repaired projection and its entitlement, adding no history (billing sync).
    func rewrite(_ subscription: StoredSubscription, at time: Date) async throws {
        let entitlement = try subscription.entitlement.map(SubscriptionRows.json) ?? "null"
        try await connection.query(
            """
            UPDATE \(unescaped: s).subscriptions SET projection = \(try SubscriptionRows.json(subscription.projection))::jsonb, entitlement = \(entitlement)::jsonb,
                entitlement_revision = \(subscription.entitlementRevision), updated_at = \(time)
            WHERE id = \(subscription.id)
            """, logger: logger)
    }

    func mappedPlan(provider: WebhookProvider, providerPlan: String) async throws -> ProviderFact.MappedPlan? {
        let rows = try await connection.query(
            """
            SELECT m.plan_code, max(v.version)::integer FROM \(unescaped: s).price_mappings m
            JOIN \(unescaped: s).plan_versions v ON v.org_id = m.org_id AND v.code = m.plan_code
            WHERE m.provider = \(provider.rawValue) AND m.provider_plan = \(providerPlan)
            GROUP BY m.plan_code
            """, logger: logger)
        for try await (code, version) in rows.decode((String, Int).self) { return ProviderFact.MappedPlan(code: code, version: version) }
        return nil
    }

    func limits(plan code: String, version: Int) async throws -> [String: Int64] {
        let rows = try await connection.query(
            "SELECT limits::text FROM \(unescaped: s).plan_versions WHERE code = \(code) AND version = \(version)", logger: logger)
        for try await text in rows.decode(String.self) { return try CanonicalJSON.decode([String: Int64].self, from: Array(text.utf8)) }
        return [:]
    }

    func enqueue(_ message: OutboxMessage) async throws {
        try await Outbox(schema: schema).enqueue([message], on: connection, logger: logger)
    }

    // MARK: Dunning

    func recordFailure(_ invoice: DunningInvoice, at time: Date) async throws -> DunningInvoice {
        let rows = try await connection.query(
            """
            INSERT INTO \(unescaped: s).dunning_invoices
                (org_id, provider, invoice_id, subscription_id, customer_ref, invoice_number, amount_minor, currency, failed_at, paid_at, cause_event_id, updated_at)
            VALUES (current_setting('tally.org_id', true), \(invoice.provider.rawValue), \(invoice.invoiceID), \(invoice.subscriptionID), \(invoice.customerRef),
                    \(invoice.number), \(invoice.amount.amountMinor), \(invoice.amount.currency.rawValue), \(invoice.failedAt), NULL, \(invoice.causeEventID), \(time))
            ON CONFLICT (org_id, provider, invoice_id) DO UPDATE SET
                failed_at = LEAST(dunning_invoices.failed_at, EXCLUDED.failed_at),
                subscription_id = COALESCE(dunning_invoices.subscription_id, EXCLUDED.subscription_id),
                customer_ref = COALESCE(dunning_invoices.customer_ref, EXCLUDED.customer_ref),
                invoice_number = COALESCE(dunning_invoices.invoice_number, EXCLUDED.invoice_number),
                amount_minor = CASE WHEN dunning_invoices.paid_at IS NULL THEN EXCLUDED.amount_minor ELSE dunning_invoices.amount_minor END,
                currency = CASE WHEN dunning_invoices.paid_at IS NULL THEN EXCLUDED.currency ELSE dunning_invoices.currency END,
                cause_event_id = CASE WHEN dunning_invoices.failed_at IS NULL THEN EXCLUDED.cause_event_id ELSE dunning_invoices.cause_event_id END,
                updated_at = EXCLUDED.updated_at
            RETURNING \(unescaped: DunningRows.columns)
            """, logger: logger)
        for try await row in rows.decode(DunningRows.Row.self) { return try DunningRows.invoice(row) }
        throw UnreadableRow(table: "dunning_invoices", reason: "the insert returned no row")
    }

    func recordPaid(
        provider: WebhookProvider, invoiceID: String, paidAt: Date, recordIfUnknown invoice: DunningInvoice?, at time: Date
    ) async throws
        -> DunningInvoice?
    {
        guard let existing = try await self.invoice(provider: provider, invoiceID: invoiceID) else {
            if let invoice {
                try await connection.query(
                    """
                    INSERT INTO \(unescaped: s).dunning_invoices
                        (org_id, provider, invoice_id, subscription_id, customer_ref, invoice_number, amount_minor, currency, failed_at, paid_at, cause_event_id,
                         updated_at)
                    VALUES (current_setting('tally.org_id', true), \(provider.rawValue), \(invoiceID), \(invoice.subscriptionID), \(invoice.customerRef),
                            \(invoice.number), \(invoice.amount.amountMinor), \(invoice.amount.currency.rawValue), NULL, \(paidAt), \(invoice.causeEventID), \(time))
                    ON CONFLICT (org_id, provider, invoice_id) DO NOTHING
                    """, logger: logger)
            }
            return nil
        }
        guard existing.paidAt == nil else { return nil }
        try await connection.query(
            """
            UPDATE \(unescaped: s).dunning_invoices SET paid_at = \(paidAt), updated_at = \(time)
            WHERE provider = \(provider.rawValue) AND invoice_id = \(invoiceID)
            """, logger: logger)
        guard existing.failedAt != nil else { return nil }
        var paid = existing
        paid.paidAt = paidAt
        return paid
    }

    func invoice(provider: WebhookProvider, invoiceID: String) async throws -> DunningInvoice? {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: DunningRows.columns) FROM \(unescaped: s).dunning_invoices
            WHERE provider = \(provider.rawValue) AND invoice_id = \(invoiceID) FOR UPDATE
            """, logger: logger)
        for try await row in rows.decode(DunningRows.Row.self) { return try DunningRows.invoice(row) }
        return nil
    }

    func unpaidInvoices(of subscription: SubscriptionReference) async throws -> [DunningInvoice] {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: DunningRows.columns) FROM \(unescaped: s).dunning_invoices
            WHERE provider = \(subscription.provider.rawValue) AND subscription_id = \(subscription.subscriptionID) AND paid_at IS NULL AND failed_at IS NOT NULL
            ORDER BY failed_at, invoice_id
            """, logger: logger)
        var invoices: [DunningInvoice] = []
        for try await row in rows.decode(DunningRows.Row.self) { invoices.append(try DunningRows.invoice(row)) }
        return invoices
    }

    func doneSteps(provider: WebhookProvider, invoiceID: String) async throws -> Set<DunningAction> {
        let rows = try await connection.query(
            "SELECT action FROM \(unescaped: s).dunning_steps WHERE provider = \(provider.rawValue) AND invoice_id = \(invoiceID)", logger: logger)
        var done: Set<DunningAction> = []
        for try await action in rows.decode(String.self) {
            guard let known = DunningAction(rawValue: action) else { throw UnreadableRow(table: "dunning_steps", reason: "unknown action \(action)") }
            done.insert(known)
        }
        return done
    }

    func recordStep(
        provider: WebhookProvider, invoiceID: String, action: DunningAction, disposition: StepDisposition, day: Int, dedupeKey: String, at time: Date
    ) async throws -> Bool {
        let rows = try await connection.query(
            """
            INSERT INTO \(unescaped: s).dunning_steps (org_id, provider, invoice_id, action, disposition, day, dedupe_key, done_at)
            VALUES (current_setting('tally.org_id', true), \(provider.rawValue), \(invoiceID), \(action.rawValue), \(disposition.rawValue), \(day), \(dedupeKey), \(time))
            ON CONFLICT (org_id, provider, invoice_id, action) DO NOTHING
            RETURNING 1
            """, logger: logger)
        for try await _ in rows.decode(Int.self) { return true }
        return false
    }

    func dunningPolicy() async throws -> DunningPolicy {
        for try await text in try await connection.query("SELECT steps::text FROM \(unescaped: s).dunning_policies", logger: logger).decode(String.self) {
            return DunningPolicy(steps: try CanonicalJSON.decode([DunningStep].self, from: Array(text.utf8)))
        }
        return .standard
    }
}

extension PostgresBillingStore {
    // MARK: Usage

    func recordUsage(_ usage: UsageRecorded, month: String, eventID: String, at time: Date) async throws -> Bool {
        let s = schema.name
        let reference = usage.subscription
        let rows = try await connection.query(
            """
            INSERT INTO \(unescaped: s).usage_events (org_id, transaction_id, provider, subscription_id, metric, quantity, month, recorded_at, event_id)
            VALUES (current_setting('tally.org_id', true), \(usage.transactionID), \(reference.provider.rawValue), \(reference.subscriptionID), \(usage.metric),
                    \(usage.quantity), \(month), \(usage.recordedAt), \(eventID))
            ON CONFLICT (org_id, transaction_id) DO NOTHING
            RETURNING 1
            """, logger: logger)
        var inserted = false
        for try await _ in rows.decode(Int.self) { inserted = true }
        guard inserted else { return false }
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).usage_counters (org_id, provider, subscription_id, metric, month, quantity, updated_at)
            VALUES (current_setting('tally.org_id', true), \(reference.provider.rawValue), \(reference.subscriptionID), \(usage.metric), \(month),
                    \(usage.quantity), \(time))
            ON CONFLICT (org_id, provider, subscription_id, metric, month) DO UPDATE SET
                quantity = usage_counters.quantity + EXCLUDED.quantity, updated_at = EXCLUDED.updated_at
            """, logger: logger)
        return true
    }

    // MARK: Engagement

    func engagementRecorded(subscription: UUID) async throws -> Set<String> {
        var templates: Set<String> = []
        for try await key in try await connection.query(
            "SELECT template_key FROM \(unescaped: schema.name).engagement_messages WHERE subscription = \(subscription)", logger: logger
        ).decode(String.self) { templates.insert(key) }
        return templates
    }

    func recordEngagement(subscription: UUID, templateKey: String, disposition: StepDisposition, day: Int, dedupeKey: String, at time: Date) async throws -> Bool {
        let rows = try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).engagement_messages (org_id, subscription, template_key, disposition, day, dedupe_key, recorded_at)
            VALUES (current_setting('tally.org_id', true), \(subscription), \(templateKey), \(disposition.rawValue), \(day), \(dedupeKey), \(time))
            ON CONFLICT (org_id, subscription, template_key) DO NOTHING
            RETURNING 1
            """, logger: logger)
        for try await _ in rows.decode(Int.self) { return true }
        return false
    }
}

/// How subscriptions are written to and read from their jsonb columns: canonical JSON, the
/// same bytes whichever process wrote them.
enum SubscriptionRows {
    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try CanonicalJSON.encode(value), as: UTF8.self)
    }

    static func stored(id: UUID, projection: String, entitlement: String, revision: Int64) throws -> StoredSubscription {
        StoredSubscription(
            id: id, projection: try CanonicalJSON.decode(SubscriptionProjection.self, from: Array(projection.utf8)),
            entitlement: entitlement == "null" ? nil : try CanonicalJSON.decode(EffectiveEntitlement.self, from: Array(entitlement.utf8)),
            entitlementRevision: revision)
    }
}

/// The columns of `dunning_invoices`, read the same way everywhere.
enum DunningRows {
    typealias Row = (String, String, String?, String?, String?, Int64, String, Date?, Date?, String)
    static let columns = "provider, invoice_id, invoice_number, subscription_id, customer_ref, amount_minor, currency, failed_at, paid_at, cause_event_id"

    static func invoice(_ row: Row) throws -> DunningInvoice {
        guard let provider = WebhookProvider(rawValue: row.0) else { throw UnreadableRow(table: "dunning_invoices", reason: "unknown provider \(row.0)") }
        guard let currency = CurrencyCode(rawValue: row.6) else { throw UnreadableRow(table: "dunning_invoices", reason: "bad currency \(row.6)") }
        return DunningInvoice(
            provider: provider, invoiceID: row.1, number: row.2, subscriptionID: row.3, customerRef: row.4,
            amount: Money(amountMinor: row.5, currency: currency), failedAt: row.7, paidAt: row.8, causeEventID: row.9)
    }
}
