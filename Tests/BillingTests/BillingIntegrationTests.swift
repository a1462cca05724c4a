import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import ServiceRuntime
import Storage
import Synchronization
import TallyTestSupport
import Testing

@testable import Billing

/// Billing on real PostgreSQL: the inbox applying subscription and invoice events, the admin
/// routes (roles, 409s, audit), the entitlement events in the outbox, and the dunning job.
@Suite("Billing on PostgreSQL", .enabled(if: TestDatabase.enabled), .serialized)
struct BillingIntegrationTests {
    static let acme = TenantID(rawValue: "org_bill_acme")!
    static let subscriptionID = "sub_1QAbcLkdIwHu7ix2mM1nO2pQ"
    static let invoiceID = "in_1QAbgLkdIwHu7ix2nN3oP4qR"
    static let activatedAt = RFC3339.parse("2026-11-23T08:00:00.000Z")!

    /// A clock the test moves.
    final class Clock: Sendable {
        let time = Mutex(Date(timeIntervalSince1970: 1_795_500_000))
        var now: Date { time.withLock { $0 } }
        func set(_ date: Date) { time.withLock { $0 = date } }
    }

    func withBilling(_ body: @Sendable (PostgresClient, ServiceSchema) async throws -> Void) async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("billing"), migrations: try TestService.migrations(of: .billing)) { client, schema in
            do {
                try await body(client, schema)
            } catch {
                Issue.record("\(String(reflecting: error))")
            }
        }
    }

    static func subscription<Kind>(
        _ type: SubscriptionEvent<Kind>.Type, id: String, at offset: TimeInterval, plan: String = "price_pro", status: String = "active"
    )
        throws -> EventEnvelope<SubscriptionEvent<Kind>>
    {
        try TestEvents.fixture(type) { event in
            event.id = id
            event.tenant = acme.rawValue
            event.data.origin.provider = .stripe
            event.data.origin.occurredAt = activatedAt.addingTimeInterval(offset)
            event.data.subscription.subscriptionID = subscriptionID
            event.data.subscription.planCode = plan
            event.data.subscription.providerStatus = status
        }
    }

    static func failed(_ id: String, at offset: TimeInterval) throws -> EventEnvelope<InvoicePaymentFailed> {
        try TestEvents.fixture(InvoicePaymentFailed.self) { event in
            event.id = id
            event.tenant = acme.rawValue
            event.data.origin.occurredAt = activatedAt.addingTimeInterval(offset)
            event.data.invoiceID = invoiceID
            event.data.subscriptionRef = subscriptionID
        }
    }

    static func paid(_ id: String, at offset: TimeInterval) throws -> EventEnvelope<InvoicePaid> {
        try TestEvents.fixture(InvoicePaid.self) { event in
            event.id = id
            event.tenant = acme.rawValue
            event.data.origin.occurredAt = activatedAt.addingTimeInterval(offset)
            event.data.invoiceID = invoiceID
            event.data.subscriptionRef = subscriptionID
            event.data.paidAt = activatedAt.addingTimeInterval(offset)
        }
    }

    /// The outbox's messages of one topic, as `key event-id` lines and decoded payload text.
    static func outbox(_ schema: ServiceSchema, topic: TallyTopic) async throws -> [String] {
        try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
            try await admin.strings(
                PostgresQuery(unsafeSQL: "SELECT convert_from(payload, 'UTF8') FROM \(schema.name).outbox WHERE topic = '\(topic.name)' ORDER BY id"))
        }
    }

    @Test func subscriptionsFollowTheProviderPlansMapAndOperatorsPauseResumeAndCorrect() async throws {
        let clock = Clock()
        try await withBilling { client, schema in
            let definition = BillingService.definition(now: { clock.now })
            let inbox = try TestService.inbox(for: definition, client: client, schema: schema)
            let router = try TestService.router(for: definition, client: client, schema: schema)
            let finance = TestService.tokens.issue(subject: "fay", org: Self.acme.rawValue, role: .finance)
            let viewer = TestService.tokens.issue(subject: "vic", org: Self.acme.rawValue, role: .viewer)

            try await Application(router: router).test(.router) { http in
                func call(_ method: HTTPRequest.Method, _ path: String, _ token: String, _ body: String? = nil) async throws -> (HTTPResponse.Status, String) {
                    try await http.execute(
                        uri: "/admin/orgs/\(Self.acme)/\(path)", method: method, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                        body: body.map { ByteBuffer(string: $0) }
                    ) { ($0.status, String(buffer: $0.body)) }
                }
                let plan = #"{"name":"Pro","interval":{"unit":"month","count":1},"prices":{"USD":4900},"limits":{"seats":5}}"#
                #expect(try await call(.put, "plans/pro", viewer, plan).0 == .forbidden)
                #expect(try await call(.put, "plans/pro", finance, plan).0 == .created)
                #expect(try await call(.put, "plans/pro", finance, plan).0 == .ok, "an unchanged plan makes no version")
                let bad = try await call(.put, "plans/pro", finance, #"{"name":"Pro","interval":{"unit":"fortnight"},"prices":{"USD":1}}"#)
                #expect(bad.0 == .badRequest && bad.1.contains("interval.unit"), "\(bad.1)")

                // A subscription whose price has no mapping is kept unmapped and listed.
                try await inbox.apply([try TestEvents.message(try Self.subscription(SubscriptionActivated.self, id: "evt_a1", at: 0), offset: 0)])
                let unmapped = try await call(.get, "subscriptions/unmapped", viewer)
                #expect(unmapped.1.contains(#""provider_plan":"price_pro""#) && unmapped.1.contains(#""subscriptions":1"#), "\(unmapped.1)")
                let listed = try await call(.get, "subscriptions?unmapped=true", viewer)
                let id = try #require(listed.1.firstMatch(of: /"id":"([0-9a-fA-F-]{36})"/).map { String($0.1) }, "\(listed.1)")

                // Mapping the price gives it the plan's newest version.
                #expect(try await call(.put, "price-mappings", finance, #"{"provider":"stripe","provider_plan":"price_pro","plan_code":"nope"}"#).0 == .notFound)
                let mapped = try await call(.put, "price-mappings", finance, #"{"provider":"stripe","provider_plan":"price_pro","plan_code":"pro"}"#)
                #expect(mapped.0 == .ok && mapped.1.contains(#""subscriptions_mapped":1"#), "\(mapped.1)")
                #expect(try await call(.get, "subscriptions/unmapped", viewer).1 == #"{"unmapped":[]}"#)

                // A late event (older than the one applied) changes nothing; a newer one does.
                try await inbox.apply([
                    try TestEvents.message(try Self.subscription(SubscriptionCanceled.self, id: "evt_late", at: -60, status: "canceled"), offset: 1),
                    try TestEvents.message(try Self.subscription(SubscriptionActivated.self, id: "evt_a1", at: 0), offset: 0),
                ])
                let status = try await call(.get, "billing/status?subscription_id=\(Self.subscriptionID)", viewer)
                #expect(status.1.contains(#""status":"active""#) && status.1.contains(#""plan_code":"pro""#) && status.1.contains(#""access":"granted""#), "\(status.1)")

                // Pause and resume, with their reason codes and 409s.
                #expect(try await call(.post, "subscriptions/\(id)/pause", viewer, #"{"reason_code":"customer_request"}"#).0 == .forbidden)
                let tooLong = try await call(.post, "subscriptions/\(id)/pause", finance, "{\"reason_code\":\"\(String(repeating: "a", count: 65))\"}")
                #expect(tooLong.0 == .badRequest && tooLong.1.contains("reason_code"), "\(tooLong.1)")
                #expect(try await call(.post, "subscriptions/\(id)/resume", finance, #"{"reason_code":"x"}"#).0 == .conflict, "resuming an active one")
                let paused = try await call(.post, "subscriptions/\(id)/pause", finance, #"{"reason_code":"customer_request"}"#)
                #expect(paused.0 == .ok && paused.1.contains(#""status":"paused""#) && paused.1.contains(#""pause_reason_code":"customer_request""#), "\(paused.1)")
                #expect(paused.1.contains(#""access":"blocked""#), "only the status gates entitlement: \(paused.1)")
                let again = try await call(.post, "subscriptions/\(id)/pause", finance, #"{"reason_code":"customer_request"}"#)
                #expect(again.0 == .conflict && again.1.contains("subscription-already-paused"), "\(again.1)")
                // A provider event while paused by an operator keeps the pause.
                try await inbox.apply([try TestEvents.message(try Self.subscription(SubscriptionChanged.self, id: "evt_c1", at: 60), offset: 2)])
                let resumed = try await call(.post, "subscriptions/\(id)/resume", finance, #"{"reason_code":"payment_plan_agreed"}"#)
                #expect(resumed.0 == .ok && resumed.1.contains(#""status":"active""#) && resumed.1.contains(#""resume_reason_code":"payment_plan_agreed""#), "\(resumed.1)")
                #expect(resumed.1.contains(#""plan_code":"pro""#), "plan data is kept")

                // A correction stands until a provider change made after it.
                #expect(try await call(.put, "plans/team", finance, #"{"name":"Team","interval":{"unit":"month"},"prices":{"USD":9900},"limits":{"seats":20}}"#).0 == .created)
                let corrected = try await call(.post, "subscriptions/\(id)/plan", finance, #"{"plan_code":"team","reason":"upgraded by phone"}"#)
                #expect(corrected.0 == .ok && corrected.1.contains(#""plan_code":"team""#), "\(corrected.1)")
                try await inbox.apply([try TestEvents.message(try Self.subscription(SubscriptionChanged.self, id: "evt_c0", at: 120), offset: 3)])
                let afterOlder = try await call(.get, "billing/status?subscription_id=\(Self.subscriptionID)", viewer)
                #expect(afterOlder.1.contains(#""plan_code":"team""#), "a provider change from before the correction does not undo it: \(afterOlder.1)")
                clock.set(clock.now.addingTimeInterval(10))
                try await inbox.apply([
                    try TestEvents.message(try Self.subscription(SubscriptionChanged.self, id: "evt_c2", at: clock.now.timeIntervalSince(Self.activatedAt) + 60), offset: 4)
                ])
                let afterNewer = try await call(.get, "billing/status?subscription_id=\(Self.subscriptionID)", viewer)
                #expect(afterNewer.1.contains(#""plan_code":"pro""#), "a newer provider change wins: \(afterNewer.1)")

                // The overdue policy: an object of day per action.
                let notice = try await call(.put, "dunning/policy", finance, #"{"notice":5}"#)
                #expect(notice.0 == .badRequest && notice.1.contains(#""field":"notice""#), "\(notice.1)")
                #expect(try await call(.put, "dunning/policy", finance, #"{"reminder":null}"#).0 == .badRequest)
                #expect(try await call(.put, "dunning/policy", viewer, #"{"reminder":2}"#).0 == .forbidden)
                let policy = try await call(.put, "dunning/policy", finance, #"{"block":5,"reminder":2,"notice":0}"#)
                #expect(policy.1 == #"{"steps":[{"action":"notice","day":0},{"action":"reminder","day":2},{"action":"block","day":5}]}"#, "\(policy.1)")
                #expect(try await call(.get, "dunning/policy", viewer).1 == policy.1)

                let detail = try await call(.get, "subscriptions/\(id)", viewer)
                #expect(detail.1.contains(#""kind":"operator.plan""#) && detail.1.contains(#""kind":"operator.pause""#), "the history lists every change")
                #expect(try await call(.get, "subscriptions/00000000-0000-0000-0000-000000000000", viewer).0 == .notFound)
            }

            // Every change of entitlement is one event, revisions 1, 2, 3… on the entitlements topic.
            let events = try await Self.outbox(schema, topic: .entitlements).map { try CanonicalJSON.decode(EventEnvelope<EntitlementChanged>.self, from: Array($0.utf8)) }
            #expect(events.map(\.data.revision) == Array(1...Int64(events.count)))
            #expect(events.map(\.data.access) == [.granted, .granted, .blocked, .granted, .granted, .granted])
            #expect(events.map(\.data.planCode) == [nil, "pro", "pro", "pro", "team", "pro"])
            #expect(events[1].data.limits == ["seats": 5] && events[4].data.limits == ["seats": 20])
            #expect(Set(events.map(\.id)).count == events.count)

            let actions = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings(PostgresQuery(unsafeSQL: "SELECT action || ' ' || actor || ' ' || coalesce(correlation_id, '-') FROM \(schema.name).audit_log ORDER BY id"))
            }
            #expect(
                actions.map { $0.split(separator: " ").prefix(2).joined(separator: " ") } == [
                    "plan.revise fay", "price_mapping.set fay", "subscription.pause fay", "subscription.resume fay", "plan.revise fay", "subscription.plan fay",
                    "dunning_policy.set fay",
                ])
            #expect(actions.allSatisfy { !$0.hasSuffix(" -") }, "every audit row names its request")
        }
    }

    @Test func aFailedInvoiceIsDunnedOnceBlocksOnDaySevenAndIsLiftedWhenPaid() async throws {
        let clock = Clock()
        try await withBilling { client, schema in
            let definition = BillingService.definition(now: { clock.now })
            let inbox = try TestService.inbox(for: definition, client: client, schema: schema)
            try await inbox.apply([try TestEvents.message(try Self.subscription(SubscriptionActivated.self, id: "evt_a1", at: 0), offset: 0)])

            // The same failure three times (a provider retrying its webhook): one request.
            try await inbox.apply([
                try TestEvents.message(try Self.failed("evt_f1", at: 86_400), offset: 1),
                try TestEvents.message(try Self.failed("evt_f2", at: 86_400), offset: 2),
                try TestEvents.message(try Self.failed("evt_f3", at: 90_000), offset: 3),
            ])
            var requests = try await Self.outbox(schema, topic: .notificationRequests).map {
                try CanonicalJSON.decode(EventEnvelope<NotificationRequested>.self, from: Array($0.utf8)).data
            }
            #expect(requests.map(\.dedupeKey) == ["invoice:\(Self.invoiceID):dunning:payment_failed"])
            #expect(requests.first?.variables["invoice_number"] == "ACME-0042" && requests.first?.variables["amount"] == "USD 49.00")
            #expect(requests.first?.variables.keys.sorted() == ["amount", "due_date", "invoice_number", "pay_url"])

            let job = DunningJob(client: client, schema: schema, links: DunningMessages.Links(payURLTemplate: BillingSettings.placeholderPayURL), logger: TestDatabase.logger)
            let failedAt = Self.activatedAt.addingTimeInterval(86_400)
            #expect(try await job.run(now: failedAt.addingTimeInterval(2 * 86_400), org: nil) == JobRunReport(processed: 0, deferred: 1), "nothing due on day 2")
            // The job was down until day 8: the reminder and the block are due; both go once.
            let day8 = failedAt.addingTimeInterval(8 * 86_400)
            #expect(try await job.run(now: day8, org: nil) == JobRunReport(processed: 2, deferred: 0))
            #expect(try await job.run(now: day8, org: nil) == JobRunReport(processed: 0, deferred: 1), "a second run does nothing")
            requests = try await Self.outbox(schema, topic: .notificationRequests).map {
                try CanonicalJSON.decode(EventEnvelope<NotificationRequested>.self, from: Array($0.utf8)).data
            }
            #expect(requests.map(\.templateKey) == ["dunning.payment_failed", "dunning.reminder", "dunning.access_blocked"])

            let queries = BillingQueries(client: client, schema: schema, logger: TestDatabase.logger)
            let blocked = try #require(try await queries.subscriptions(org: Self.acme, providerSubscriptionID: Self.subscriptionID).first)
            #expect(blocked.stored.entitlement?.access == .blocked && blocked.stored.entitlement?.blocks.map(\.kind) == [.dunning])
            #expect(blocked.stored.projection.status == .active, "billing status and entitlement stay apart")

            let routes = DunningRoutes(
                queries: queries, commands: CatalogCommands(queries: queries, audit: AuditLog(schema: schema), logger: TestDatabase.logger, now: { day8 }),
                jobs: JobRunner(jobs: [], client: client, schema: schema, logger: TestDatabase.logger, now: { day8 }), audit: AuditLog(schema: schema), now: { day8 })
            let accounts = try await routes.accounts(org: Self.acme)
            #expect(accounts.count == 1 && accounts.first?.days == 8 && accounts.first?.nextAction == "final_notice" && accounts.first?.blocked == true)

            // invoice.paid lifts the block at once, and the account leaves the list.
            try await inbox.apply([try TestEvents.message(try Self.paid("evt_p1", at: 9 * 86_400), offset: 4)])
            let lifted = try #require(try await queries.subscriptions(org: Self.acme, providerSubscriptionID: Self.subscriptionID).first)
            #expect(lifted.stored.entitlement?.access == .granted)
            #expect(try await routes.accounts(org: Self.acme).isEmpty)
            // A failure delivered after the payment changes nothing.
            try await inbox.apply([try TestEvents.message(try Self.failed("evt_f4", at: 86_400), offset: 5)])
            #expect(try await routes.accounts(org: Self.acme).isEmpty)
            let access = try await Self.outbox(schema, topic: .entitlements).map {
                try CanonicalJSON.decode(EventEnvelope<EntitlementChanged>.self, from: Array($0.utf8)).data.access
            }
            #expect(access == [.granted, .blocked, .granted])
        }
    }

    @Test func billingSyncRepairsATamperedProjectionAndReportsWhatDiffered() async throws {
        let clock = Clock()
        try await withBilling { client, schema in
            let definition = BillingService.definition(now: { clock.now })
            let inbox = try TestService.inbox(for: definition, client: client, schema: schema)
            try await inbox.apply([
                try TestEvents.message(try Self.subscription(SubscriptionActivated.self, id: "evt_a1", at: 0), offset: 0),
                try TestEvents.message(try Self.subscription(SubscriptionPastDue.self, id: "evt_d1", at: 60, status: "past_due"), offset: 1),
            ])
            // The seed runbook's raw SQL fix, done by hand around the service.
            try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.query(
                    PostgresQuery(
                        unsafeSQL: "UPDATE \(schema.name).subscriptions SET projection = jsonb_set(projection, '{status}', '\"active\"') WHERE org_id = '\(Self.acme)'"),
                    logger: TestDatabase.logger)
            }
            let router = try TestService.router(for: definition, client: client, schema: schema)
            let finance = TestService.tokens.issue(subject: "fay", org: Self.acme.rawValue, role: .finance)
            let viewer = TestService.tokens.issue(subject: "vic", org: Self.acme.rawValue, role: .viewer)
            try await Application(router: router).test(.router) { http in
                func call(_ method: HTTPRequest.Method, _ path: String, _ token: String) async throws -> (HTTPResponse.Status, String) {
                    try await http.execute(uri: "/admin/orgs/\(Self.acme)/\(path)", method: method, headers: [.authorization: "Bearer \(token)"]) {
                        ($0.status, String(buffer: $0.body))
                    }
                }
                #expect(try await call(.post, "billing/sync", viewer).0 == .forbidden)
                let first = try await call(.post, "billing/sync", finance)
                #expect(first.0 == .ok, "\(first.1)")
                #expect(first.1.contains(#""difference_count":1"#) && first.1.contains(#""field":"status""#), "\(first.1)")
                #expect(first.1.contains(#""rebuilt":"\"past_due\"""#) && first.1.contains(#""stored":"\"active\"""#), "\(first.1)")
                #expect(first.1.contains(#""items_processed":1"#) && first.1.contains(#""status":"completed""#))
                let status = try await call(.get, "billing/status?subscription_id=\(Self.subscriptionID)", viewer)
                #expect(status.1.contains(#""status":"past_due""#), "repaired: \(status.1)")
                clock.set(clock.now.addingTimeInterval(1))
                let second = try await call(.post, "billing/sync", finance)
                #expect(second.1.contains(#""difference_count":0"#), "nothing left to repair: \(second.1)")
                let runs = try await call(.get, "sync-runs?limit=1", viewer)
                #expect(runs.1.contains(#""difference_count":0"#) && runs.1.contains("next_cursor"), "newest first: \(runs.1)")
                let cursor = try #require(runs.1.firstMatch(of: /"next_cursor":"([0-9a-f-]{36})"/).map { String($0.1) })
                let older = try await call(.get, "sync-runs?before=\(cursor)", viewer)
                #expect(older.1.contains(#""difference_count":1"#) && !older.1.contains("next_cursor"), "\(older.1)")
            }
            let actions = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings(PostgresQuery(unsafeSQL: "SELECT action FROM \(schema.name).audit_log ORDER BY id"))
            }
            #expect(actions == ["billing.sync", "billing.sync"])
        }
    }

    static func usage(_ id: String, transaction: String, quantity: Int64, day: Int) throws -> EventEnvelope<UsageRecorded> {
        try TestEvents.fixture(UsageRecorded.self) { event in
            event.id = id
            event.tenant = acme.rawValue
            event.data.transactionID = transaction
            event.data.subscription = SubscriptionReference(provider: .stripe, subscriptionID: subscriptionID)
            event.data.metric = "bookings_per_month"
            event.data.quantity = quantity
            event.data.recordedAt = RFC3339.parse("2026-11-\(day < 10 ? "0" : "")\(day)T10:00:00.000Z")!
        }
    }

    @Test func theUsageReportCountsEachTransactionOnceAndShowsDrift() async throws {
        let clock = Clock()
        try await withBilling { client, schema in
            let definition = BillingService.definition(now: { clock.now })
            let inbox = try TestService.inbox(for: definition, client: client, schema: schema)
            let router = try TestService.router(for: definition, client: client, schema: schema)
            let finance = TestService.tokens.issue(subject: "fay", org: Self.acme.rawValue, role: .finance)
            let support = TestService.tokens.issue(subject: "sam", org: Self.acme.rawValue, role: .support)
            try await Application(router: router).test(.router) { http in
                func call(_ method: HTTPRequest.Method, _ path: String, _ token: String, _ body: String? = nil) async throws -> (HTTPResponse.Status, String) {
                    try await http.execute(
                        uri: "/admin/orgs/\(Self.acme)/\(path)", method: method, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                        body: body.map { ByteBuffer(string: $0) }
                    ) { ($0.status, String(buffer: $0.body)) }
                }
                let plan = #"{"name":"Pro","interval":{"unit":"month"},"prices":{"USD":4900},"limits":{"bookings_per_month":5,"seats":3}}"#
                #expect(try await call(.put, "plans/pro", finance, plan).0 == .created)
                #expect(try await call(.put, "price-mappings", finance, #"{"provider":"stripe","provider_plan":"price_pro","plan_code":"pro"}"#).0 == .ok)
                try await inbox.apply([
                    try TestEvents.message(try Self.subscription(SubscriptionActivated.self, id: "evt_a1", at: 0), offset: 0),
                    try TestEvents.message(try Self.usage("evt_u1", transaction: "txn_1", quantity: 3, day: 2), offset: 1),
                    try TestEvents.message(try Self.usage("evt_u2", transaction: "txn_2", quantity: 4, day: 20), offset: 2),
                    try TestEvents.message(try Self.usage("evt_u1_resent", transaction: "txn_1", quantity: 3, day: 2), offset: 3),
                    try TestEvents.message(try Self.usage("evt_u3", transaction: "txn_3", quantity: 9, day: 1), offset: 4),
                ])
                #expect(try await call(.get, "billing/usage/report?month=2026-11", support).0 == .forbidden)
                let bad = try await call(.get, "billing/usage/report?month=2026-13", finance)
                #expect(bad.0 == .badRequest && bad.1.contains(#""field":"month""#))
                let report = try await call(.get, "billing/usage/report?month=2026-11", finance)
                let line = #"{"counted":16,"drift_detected":false,"limit":5,"metric":"bookings_per_month","overage":true,"recorded":16}"#
                #expect(report.1.contains(line) && report.1.contains(#""drift_detected":false,"month""#), "each transaction once: \(report.1)")
                #expect(report.1.contains(#"{"counted":0,"drift_detected":false,"limit":3,"metric":"seats","overage":false,"recorded":0}"#), "\(report.1)")

                try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                    try await admin.query(
                        PostgresQuery(unsafeSQL: "UPDATE \(schema.name).usage_counters SET quantity = 12 WHERE org_id = '\(Self.acme)'"), logger: TestDatabase.logger)
                }
                let drifted = try await call(.get, "billing/usage/report?month=2026-11&subscription_id=\(Self.subscriptionID)", finance)
                #expect(drifted.1.contains(#"{"counted":16,"drift_detected":true,"limit":5,"metric":"bookings_per_month","overage":true,"recorded":12}"#), "\(drifted.1)")
                #expect(drifted.1.contains(#""drift_detected":true,"month":"2026-11""#), "\(drifted.1)")
                let other = try await call(.get, "billing/usage/report?month=2026-10", finance)
                #expect(other.1 == #"{"drift_detected":false,"month":"2026-10","subscriptions":[]}"#, "\(other.1)")
            }
        }
    }
}
