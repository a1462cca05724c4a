import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// One subscription as the admin API lists it.
struct SubscriptionRow: Sendable, Equatable {
    var stored: StoredSubscription
    var createdAt: Date
    var updatedAt: Date
}

/// One history entry of a subscription.
struct HistoryRow: Sendable, Equatable {
    var seq: Int64
    var kind: String
    var change: SubscriptionChange
    var causeEventID: String?
    var actor: String?
    var recordedAt: Date
}

/// A provider plan no mapping names yet, with how many subscriptions wait on it.
struct UnmappedPlan: Sendable, Equatable {
    var provider: WebhookProvider
    var providerPlan: String
    var subscriptions: Int
    var firstSeen: Date
}

/// A price mapping as stored.
struct PriceMapping: Sendable, Equatable {
    var provider: WebhookProvider
    var providerPlan: String
    var planCode: String
    var updatedAt: Date
    var updatedBy: String
}

/// Reads for the admin routes and the jobs, and the transactions commands run in: every
/// statement the routes need, so the routes hold no SQL.
struct BillingQueries: Sendable {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger

    private var s: String { schema.name }

    /// Runs `body` in one tenant transaction with the store on its connection.
    func inTenant<Result: Sendable>(_ org: TenantID, _ body: (PostgresBillingStore, PostgresConnection) async throws -> Result) async throws -> Result {
        try await client.withTenantTransaction(org, logger: logger) { connection in
            try await body(PostgresBillingStore(schema: schema, connection: connection, logger: logger), connection)
        }
    }

    // MARK: Plans

    func plans(org: TenantID) async throws -> [PlanVersion] {
        try await inTenant(org) { _, connection in
            try await planVersions(where: "version = (SELECT max(version) FROM \(s).plan_versions n WHERE n.org_id = v.org_id AND n.code = v.code)", [], connection)
        }
    }

    func plan(org: TenantID, code: String) async throws -> [PlanVersion] {
        try await inTenant(org) { _, connection in try await planVersions(where: "code = $1", [code], connection) }
    }

    /// Every version of `code`, oldest first, in the caller's transaction.
    func planVersions(code: String, connection: PostgresConnection) async throws -> [PlanVersion] {
        try await planVersions(where: "code = $1", [code], connection)
    }

    /// The newest version of `code`, locked for a revision (nil for a new plan).
    func newestPlan(code: String, connection: PostgresConnection) async throws -> PlanVersion? {
        try await connection.query("SELECT pg_advisory_xact_lock(hashtext(current_setting('tally.org_id', true) || ':plan:' || \(code)))", logger: logger)
        return try await planVersions(where: "code = $1", [code], connection).last
    }

    func insert(_ plan: PlanVersion, by actor: String, connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).plan_versions (org_id, code, version, name, interval_unit, interval_count, prices, limits, created_at, created_by)
            VALUES (current_setting('tally.org_id', true), \(plan.code), \(plan.version), \(plan.name), \(plan.interval.unit.rawValue), \(plan.interval.count),
                    \(try SubscriptionRows.json(plan.prices))::jsonb, \(try SubscriptionRows.json(plan.limits))::jsonb, \(plan.createdAt), \(actor))
            """, logger: logger)
    }

    private func planVersions(
        where condition: String, _ values: [any PostgresDynamicTypeEncodable], _ connection: PostgresConnection
    ) async throws
        -> [PlanVersion]
    {
        var bindings = PostgresBindings()
        for value in values { bindings.append(value) }
        let query = PostgresQuery(
            unsafeSQL: """
                SELECT code, version, name, interval_unit, interval_count, prices::text, limits::text, created_at FROM \(s).plan_versions v
                WHERE \(condition) ORDER BY code, version
                """, binds: bindings)
        var plans: [PlanVersion] = []
        for try await (code, version, name, unit, count, prices, limits, createdAt) in try await connection.query(query, logger: logger).decode(
            (String, Int, String, String, Int, String, String, Date).self)
        {
            guard let unit = BillingInterval.Unit(rawValue: unit) else { throw UnreadableRow(table: "plan_versions", reason: "unknown interval \(unit)") }
            plans.append(
                PlanVersion(
                    code: code, version: version, name: name, interval: BillingInterval(unit: unit, count: count),
                    prices: try CanonicalJSON.decode([String: Int64].self, from: Array(prices.utf8)),
                    limits: try CanonicalJSON.decode([String: Int64].self, from: Array(limits.utf8)), createdAt: createdAt))
        }
        return plans
    }

    // MARK: Price mappings

    func mappings(org: TenantID) async throws -> [PriceMapping] {
        try await inTenant(org) { _, connection in
            var mappings: [PriceMapping] = []
            for try await (provider, plan, code, at, by) in try await connection.query(
                "SELECT provider, provider_plan, plan_code, updated_at, updated_by FROM \(unescaped: s).price_mappings ORDER BY provider, provider_plan",
                logger: logger
            ).decode((String, String, String, Date, String).self) {
                guard let provider = WebhookProvider(rawValue: provider) else { continue }
                mappings.append(PriceMapping(provider: provider, providerPlan: plan, planCode: code, updatedAt: at, updatedBy: by))
            }
            return mappings
        }
    }

    /// Writes a mapping; returns the plan code it replaced, if any.
    func upsert(_ mapping: PriceMapping, connection: PostgresConnection) async throws -> String? {
        var previous: String?
        for try await code in try await connection.query(
            "SELECT plan_code FROM \(unescaped: s).price_mappings WHERE provider = \(mapping.provider.rawValue) AND provider_plan = \(mapping.providerPlan) FOR UPDATE",
            logger: logger
        ).decode(String.self) { previous = code }
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).price_mappings (org_id, provider, provider_plan, plan_code, updated_at, updated_by)
            VALUES (current_setting('tally.org_id', true), \(mapping.provider.rawValue), \(mapping.providerPlan), \(mapping.planCode), \(mapping.updatedAt),
                    \(mapping.updatedBy))
            ON CONFLICT (org_id, provider, provider_plan) DO UPDATE SET
                plan_code = EXCLUDED.plan_code, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
            """, logger: logger)
        return previous
    }

    /// The subscriptions with no plan whose provider plan is `providerPlan` (ended ones too: the
    /// plan records what they were on).
    func unmappedSubscriptions(provider: WebhookProvider, providerPlan: String, connection: PostgresConnection) async throws -> [SubscriptionReference] {
        var references: [SubscriptionReference] = []
        for try await id in try await connection.query(
            """
            SELECT subscription_id FROM \(unescaped: s).subscriptions
            WHERE provider = \(provider.rawValue) AND provider_plan = \(providerPlan) AND plan_code IS NULL
            ORDER BY subscription_id
            """, logger: logger
        ).decode(String.self) { references.append(SubscriptionReference(provider: provider, subscriptionID: id)) }
        return references
    }

    func unmappedPlans(org: TenantID) async throws -> [UnmappedPlan] {
        try await inTenant(org) { _, connection in
            var plans: [UnmappedPlan] = []
            for try await (provider, plan, count, first) in try await connection.query(
                """
                SELECT provider, provider_plan, count(*)::integer, min(created_at) FROM \(unescaped: s).subscriptions
                WHERE plan_code IS NULL GROUP BY provider, provider_plan ORDER BY provider, provider_plan
                """, logger: logger
            ).decode((String, String, Int, Date).self) {
                guard let provider = WebhookProvider(rawValue: provider) else { continue }
                plans.append(UnmappedPlan(provider: provider, providerPlan: plan, subscriptions: count, firstSeen: first))
            }
            return plans
        }
    }

    // MARK: Subscriptions

    /// A page of subscriptions in id order, optionally of one status, plan, customer or only unmapped.
    func subscriptions(
        org: TenantID, status: BillingStatus?, planCode: String?, customerRef: String?, unmapped: Bool, after: UUID?, limit: Int
    ) async throws -> [SubscriptionRow] {
        try await inTenant(org) { _, connection in
            try await subscriptionRows(
                """
                ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR plan_code = $2) AND ($3::text IS NULL OR customer_ref = $3)
                AND (NOT $4 OR plan_code IS NULL) AND ($5::uuid IS NULL OR id > $5) ORDER BY id LIMIT $6
                """, [status?.rawValue, planCode, customerRef, unmapped, after, limit], connection)
        }
    }

    /// The subscriptions with this provider id (at any provider).
    func subscriptions(org: TenantID, providerSubscriptionID: String) async throws -> [SubscriptionRow] {
        try await inTenant(org) { _, connection in try await subscriptionRows("subscription_id = $1 ORDER BY provider", [providerSubscriptionID], connection) }
    }

    func subscription(org: TenantID, id: UUID) async throws -> (row: SubscriptionRow, history: [HistoryRow])? {
        try await inTenant(org) { _, connection in
            guard let row = try await subscriptionRows("id = $1", [id], connection).first else { return nil }
            return (row, try await history(of: id, connection: connection))
        }
    }

    /// The provider reference of a subscription id, in the caller's transaction.
    func reference(of id: UUID, connection: PostgresConnection) async throws -> SubscriptionReference? {
        try await subscriptionRows("id = $1", [id], connection).first?.stored.projection.reference
    }

    func history(of id: UUID, connection: PostgresConnection) async throws -> [HistoryRow] {
        var rows: [HistoryRow] = []
        for try await (seq, kind, change, cause, actor, at) in try await connection.query(
            """
            SELECT seq, kind, change::text, cause_event_id, actor, recorded_at FROM \(unescaped: s).subscription_history
            WHERE subscription = \(id) ORDER BY seq
            """, logger: logger
        ).decode((Int64, String, String, String?, String?, Date).self) {
            rows.append(
                HistoryRow(
                    seq: seq, kind: kind, change: try CanonicalJSON.decode(SubscriptionChange.self, from: Array(change.utf8)), causeEventID: cause, actor: actor,
                    recordedAt: at))
        }
        return rows
    }

    private func subscriptionRows(
        _ condition: String, _ values: [(any PostgresDynamicTypeEncodable)?], _ connection: PostgresConnection
    ) async throws
        -> [SubscriptionRow]
    {
        var bindings = PostgresBindings()
        for value in values {
            if let value { bindings.append(value) } else { bindings.appendNull() }
        }
        let query = PostgresQuery(
            unsafeSQL: "SELECT id, projection::text, entitlement::text, entitlement_revision, created_at, updated_at FROM \(s).subscriptions WHERE \(condition)",
            binds: bindings)
        var rows: [SubscriptionRow] = []
        for try await (id, projection, entitlement, revision, created, updated) in try await connection.query(query, logger: logger).decode(
            (UUID, String, String, Int64, Date, Date).self)
        {
            rows.append(
                SubscriptionRow(
                    stored: try SubscriptionRows.stored(id: id, projection: projection, entitlement: entitlement, revision: revision), createdAt: created,
                    updatedAt: updated))
        }
        return rows
    }

    // MARK: Usage

    /// One subscription's usage in a month: the stored counters, the count from the events, and
    /// the limits of its plan version.
    struct UsageFigures: Sendable, Equatable {
        var subscription: SubscriptionReference
        var planCode: String?
        var planVersion: Int?
        var recorded: [String: Int64]
        var counted: [String: Int64]
        var limits: [String: Int64]
    }

    /// The month's usage of every subscription that has any (or only of `subscription`), in one
    /// snapshot, by subscription.
    func usage(org: TenantID, month: String, subscription: String?) async throws -> [UsageFigures] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            try await connection.setTenant(org, logger: logger)
            var figures: [SubscriptionReference: UsageFigures] = [:]
            func entry(_ provider: String, _ id: String) -> SubscriptionReference? {
                guard let provider = WebhookProvider(rawValue: provider) else { return nil }
                let reference = SubscriptionReference(provider: provider, subscriptionID: id)
                if figures[reference] == nil {
                    figures[reference] = UsageFigures(subscription: reference, planCode: nil, planVersion: nil, recorded: [:], counted: [:], limits: [:])
                }
                return reference
            }
            for try await (provider, id, metric, quantity) in try await connection.query(
                """
                SELECT provider, subscription_id, metric, quantity FROM \(unescaped: s).usage_counters
                WHERE month = \(month) AND (\(subscription)::text IS NULL OR subscription_id = \(subscription)::text)
                """, logger: logger
            ).decode((String, String, String, Int64).self) {
                if let reference = entry(provider, id) { figures[reference]?.recorded[metric] = quantity }
            }
            for try await (provider, id, metric, quantity) in try await connection.query(
                """
                SELECT provider, subscription_id, metric, sum(quantity)::bigint FROM \(unescaped: s).usage_events
                WHERE month = \(month) AND (\(subscription)::text IS NULL OR subscription_id = \(subscription)::text)
                GROUP BY provider, subscription_id, metric
                """, logger: logger
            ).decode((String, String, String, Int64).self) {
                if let reference = entry(provider, id) { figures[reference]?.counted[metric] = quantity }
            }
            let store = PostgresBillingStore(schema: schema, connection: connection, logger: logger)
            for reference in figures.keys {
                let sql = "SELECT projection::text FROM \(s).subscriptions WHERE provider = $1 AND subscription_id = $2"
                var bindings = PostgresBindings()
                bindings.append(reference.provider.rawValue)
                bindings.append(reference.subscriptionID)
                for try await text in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger).decode(String.self) {
                    let projection = try CanonicalJSON.decode(SubscriptionProjection.self, from: Array(text.utf8))
                    if let plan = projection.plan {
                        figures[reference]?.planCode = plan.code
                        figures[reference]?.planVersion = plan.version
                        figures[reference]?.limits = try await store.limits(plan: plan.code, version: plan.version)
                    }
                }
            }
            return figures.values.sorted { $0.subscription.key < $1.subscription.key }
        }
    }

    // MARK: Sync

    /// Every subscription id of the org, in id order.
    func subscriptionIDs(org: TenantID) async throws -> [UUID] {
        try await inTenant(org) { _, connection in
            var ids: [UUID] = []
            for try await id in try await connection.query("SELECT id FROM \(unescaped: s).subscriptions ORDER BY id", logger: logger).decode(UUID.self) {
                ids.append(id)
            }
            return ids
        }
    }

    func insert(_ run: SyncRun, connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).sync_runs
                (org_id, id, actor, status, started_at, finished_at, items_processed, difference_count, differences, errors)
            VALUES (current_setting('tally.org_id', true), \(run.id), \(run.actor), \(run.status), \(run.startedAt), \(run.finishedAt), \(run.itemsProcessed),
                    \(run.differences.count), \(try SubscriptionRows.json(run.differences))::jsonb, \(try SubscriptionRows.json(run.errors))::jsonb)
            """, logger: logger)
    }

    /// The org's sync runs, newest first, before the run `before` (a cursor).
    func syncRuns(org: TenantID, before: UUID?, limit: Int) async throws -> [SyncRun] {
        try await inTenant(org) { _, connection in
            var runs: [SyncRun] = []
            for try await (id, actor, status, started, finished, items, differences, errors) in try await connection.query(
                """
                SELECT id, actor, status, started_at, finished_at, items_processed, differences::text, errors::text FROM \(unescaped: s).sync_runs
                WHERE (\(before)::uuid IS NULL OR id < \(before)::uuid) ORDER BY id DESC LIMIT \(limit)
                """, logger: logger
            ).decode((UUID, String, String, Date, Date, Int, String, String).self) {
                runs.append(
                    SyncRun(
                        id: id, actor: actor, status: status, startedAt: started, finishedAt: finished, itemsProcessed: items,
                        differences: try CanonicalJSON.decode([SyncDifference].self, from: Array(differences.utf8)),
                        errors: try CanonicalJSON.decode([String].self, from: Array(errors.utf8))))
            }
            return runs
        }
    }

    // MARK: Engagement

    /// Every org with an active subscription (operator scope: read only, across orgs).
    func orgsWithActiveSubscriptions() async throws -> [TenantID] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
            var orgs: [TenantID] = []
            for try await org in try await connection.query(
                "SELECT DISTINCT org_id FROM \(unescaped: s).subscriptions WHERE status = 'active' ORDER BY org_id", logger: logger
            ).decode(String.self) {
                if let tenant = TenantID(rawValue: org) { orgs.append(tenant) }
            }
            return orgs
        }
    }

    /// The org's active subscriptions with fewer than `steps` engagement messages recorded.
    func subscriptionsInCadence(org: TenantID, steps: Int) async throws -> [SubscriptionReference] {
        try await inTenant(org) { _, connection in
            var references: [SubscriptionReference] = []
            for try await (provider, id) in try await connection.query(
                """
                SELECT s.provider, s.subscription_id FROM \(unescaped: s).subscriptions s
                WHERE s.status = 'active'
                  AND (SELECT count(*) FROM \(unescaped: s).engagement_messages e WHERE e.org_id = s.org_id AND e.subscription = s.id) < \(steps)
                ORDER BY s.provider, s.subscription_id
                """, logger: logger
            ).decode((String, String).self) {
                if let provider = WebhookProvider(rawValue: provider) { references.append(SubscriptionReference(provider: provider, subscriptionID: id)) }
            }
            return references
        }
    }

    // MARK: Dunning

    /// Every org with an invoice in dunning (operator scope: read only, across orgs).
    func orgsInDunning() async throws -> [TenantID] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
            var orgs: [TenantID] = []
            for try await org in try await connection.query(
                "SELECT DISTINCT org_id FROM \(unescaped: s).dunning_invoices WHERE paid_at IS NULL AND failed_at IS NOT NULL ORDER BY org_id", logger: logger
            ).decode(String.self) {
                if let tenant = TenantID(rawValue: org) { orgs.append(tenant) }
            }
            return orgs
        }
    }

    /// The org's invoices in dunning, oldest failure first.
    func openDunningInvoices(org: TenantID) async throws -> [DunningInvoice] {
        try await inTenant(org) { _, connection in
            var invoices: [DunningInvoice] = []
            for try await row in try await connection.query(
                """
                SELECT \(unescaped: DunningRows.columns) FROM \(unescaped: s).dunning_invoices
                WHERE paid_at IS NULL AND failed_at IS NOT NULL ORDER BY failed_at, provider, invoice_id
                """, logger: logger
            ).decode(DunningRows.Row.self) { invoices.append(try DunningRows.invoice(row)) }
            return invoices
        }
    }

    /// The steps done per open invoice of the org.
    func openDunningSteps(org: TenantID) async throws -> [String: Set<DunningAction>] {
        try await inTenant(org) { _, connection in
            var steps: [String: Set<DunningAction>] = [:]
            for try await (provider, invoice, action) in try await connection.query(
                """
                SELECT st.provider, st.invoice_id, st.action FROM \(unescaped: s).dunning_steps st
                JOIN \(unescaped: s).dunning_invoices i ON i.org_id = st.org_id AND i.provider = st.provider AND i.invoice_id = st.invoice_id
                WHERE i.paid_at IS NULL AND i.failed_at IS NOT NULL
                """, logger: logger
            ).decode((String, String, String).self) {
                if let action = DunningAction(rawValue: action) { steps["\(provider):\(invoice)", default: []].insert(action) }
            }
            return steps
        }
    }

    func dunningPolicy(org: TenantID) async throws -> DunningPolicy {
        try await inTenant(org) { store, _ in try await store.dunningPolicy() }
    }

    func savePolicy(_ policy: DunningPolicy, by actor: String, at time: Date, connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).dunning_policies (org_id, steps, updated_at, updated_by)
            VALUES (current_setting('tally.org_id', true), \(try SubscriptionRows.json(policy.steps))::jsonb, \(time), \(actor))
            ON CONFLICT (org_id) DO UPDATE SET steps = EXCLUDED.steps, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
            """, logger: logger)
    }
}
