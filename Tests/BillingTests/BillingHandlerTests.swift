import Contracts
import Foundation
import Logging
import ServiceRuntime
import TallyTestSupport
import Testing

@testable import Billing

/// The handlers over an in-memory store, with events built from `contracts/fixtures/`: the
/// rules of applying, publishing and dunning, without a database.
@Suite("Billing handlers")
struct BillingHandlerTests {
    static let org = TenantID(rawValue: "org_handlers")!
    static let start = RFC3339.parse("2026-11-23T08:00:00.000Z")!
    static let reference = SubscriptionReference(provider: .stripe, subscriptionID: "sub_1QAbcLkdIwHu7ix2mM1nO2pQ")
    static let logger = Logger(label: "billing-handler-tests")

    static let subscriptions = SubscriptionEventsHandler(logger: logger, now: { start.addingTimeInterval(30 * 86_400) })
    static let invoices = InvoiceEventsHandler(
        links: DunningMessages.Links(payURLTemplate: "https://pay.example.com/i/{invoice_id}"), logger: logger, now: { start.addingTimeInterval(30 * 86_400) })

    /// One provider event: which kind, when (seconds after `start`), at which provider status.
    struct Step: Sendable, CustomStringConvertible {
        var kind: ProviderFact.Kind
        var at: Double
        var status: String
        var description: String { "\(kind.rawValue)@\(Int(at)) \(status)" }
    }

    static func apply(_ step: Step, id: String, to store: InMemoryBilling) async throws -> InboxOutcome {
        func event<Kind>(_ type: SubscriptionEvent<Kind>.Type) async throws -> InboxOutcome {
            let envelope = try TestEvents.fixture(type) { event in
                event.id = id
                event.tenant = org.rawValue
                event.data.origin.occurredAt = start.addingTimeInterval(step.at)
                event.data.subscription.providerStatus = step.status
            }
            return try await subscriptions.handle(try TestEvents.inboxEvent(envelope), as: step.kind, store: store)
        }
        switch step.kind {
        case .activated: return try await event(SubscriptionActivated.self)
        case .changed: return try await event(SubscriptionChanged.self)
        case .pastDue: return try await event(SubscriptionPastDue.self)
        case .paused: return try await event(SubscriptionPaused.self)
        case .resumed: return try await event(SubscriptionResumed.self)
        case .canceled: return try await event(SubscriptionCanceled.self)
        }
    }

    /// Histories of provider events in the order they were sent; several end canceled.
    static let histories: [[Step]] = [
        [Step(kind: .activated, at: 0, status: "active"), Step(kind: .pastDue, at: 10, status: "past_due"), Step(kind: .changed, at: 20, status: "active")],
        [
            Step(kind: .activated, at: 0, status: "trialing"), Step(kind: .changed, at: 5, status: "active"), Step(kind: .paused, at: 9, status: "paused"),
            Step(kind: .resumed, at: 12, status: "active"), Step(kind: .canceled, at: 30, status: "canceled"),
        ],
        [Step(kind: .activated, at: 0, status: "active"), Step(kind: .canceled, at: 3, status: "canceled"), Step(kind: .changed, at: 8, status: "active")],
    ]

    @Test(arguments: histories)
    func aRedeliveredOrReorderedHistoryNeverMovesTheSubscriptionBack(_ history: [Step]) async throws {
        let inOrder = InMemoryBilling()
        for (index, step) in history.enumerated() { #expect(try await Self.apply(step, id: "evt_\(index)", to: inOrder) == .applied) }
        let final = try #require(inOrder.projection(Self.reference))

        // Every event delivered twice, and the newest first: the newest fact decides, and what
        // arrives after it is ignored.
        let shuffled = InMemoryBilling()
        let newest = try #require(history.max { $0.at < $1.at })
        #expect(try await Self.apply(newest, id: "evt_newest", to: shuffled) == .applied)
        for (index, step) in history.enumerated() where step.at < newest.at {
            #expect(try await Self.apply(step, id: "evt_\(index)", to: shuffled) == .ignored, "\(step) is older than \(newest)")
        }
        #expect(try await Self.apply(newest, id: "evt_newest_again", to: shuffled) == .ignored)
        let latest = try #require(shuffled.projection(Self.reference))
        #expect(latest.status == final.status && latest.providerVersion == final.providerVersion && latest.providerStatus == final.providerStatus)

        // Redelivering the whole history to the first store changes nothing and publishes nothing.
        let published = try inOrder.entitlements()
        for (index, step) in history.enumerated() { #expect(try await Self.apply(step, id: "evt_again_\(index)", to: inOrder) == .ignored) }
        #expect(inOrder.projection(Self.reference) == final)
        #expect(try inOrder.entitlements() == published)
        #expect(published.map(\.revision) == Array(1...Int64(published.count)), "revisions count up without gaps")
        #expect(zip(published, published.dropFirst()).allSatisfy { $0.access != $1.access || $0.blocks != $1.blocks || $0.planCode != $1.planCode })
    }

    static func failed(_ id: String, invoice: String, at seconds: Double) throws -> InboxEvent<InvoicePaymentFailed> {
        try TestEvents.inboxEvent(
            try TestEvents.fixture(InvoicePaymentFailed.self) { event in
                event.id = id
                event.tenant = org.rawValue
                event.data.invoiceID = invoice
                event.data.origin.occurredAt = start.addingTimeInterval(seconds)
            })
    }

    @Test func aFailedInvoiceRequestsOneNoticeHoweverOftenItArrives() async throws {
        let store = InMemoryBilling()
        #expect(try await Self.invoices.paymentFailed(try Self.failed("evt_f1", invoice: "in_A", at: 100), store: store) == .applied)
        #expect(try await Self.invoices.paymentFailed(try Self.failed("evt_f2", invoice: "in_A", at: 50), store: store) == .applied)
        #expect(try await Self.invoices.paymentFailed(try Self.failed("evt_f3", invoice: "in_A", at: 200), store: store) == .applied)
        let requests = try store.requests()
        #expect(requests.map(\.dedupeKey) == ["invoice:in_A:dunning:payment_failed"])
        #expect(requests.first?.variables["pay_url"] == "https://pay.example.com/i/in_A")
        #expect(requests.first?.recipient.customer == CustomerReference(provider: .stripe, customerID: "cus_R2kLmN8pQr5sTu"))
        let invoice = try #require(try await store.invoice(provider: .stripe, invoiceID: "in_A"))
        #expect(invoice.failedAt == Self.start.addingTimeInterval(50), "days count from the first failure")
        #expect(!String(decoding: store.outbox[0].payload, as: UTF8.self).contains("attempt_count"), "the provider's payload stays out of the message")

        // A second invoice gets its own notice; a policy without a notice sends none.
        #expect(try await Self.invoices.paymentFailed(try Self.failed("evt_g1", invoice: "in_B", at: 300), store: store) == .applied)
        store.state.withLock { $0.policy = DunningPolicy(steps: [DunningStep(day: 5, action: .reminder)]) }
        #expect(try await Self.invoices.paymentFailed(try Self.failed("evt_h1", invoice: "in_C", at: 300), store: store) == .applied)
        #expect(try store.requests().map(\.dedupeKey) == ["invoice:in_A:dunning:payment_failed", "invoice:in_B:dunning:payment_failed"])
    }

    @Test func theDunningStepsRunOnceEachAndOnlyTheLatestDueMessageIsSent() async throws {
        let store = InMemoryBilling()
        #expect(try await Self.apply(Step(kind: .activated, at: 0, status: "active"), id: "evt_a", to: store) == .applied)
        let failure = try Self.failed("evt_f1", invoice: "in_A", at: 0)
        #expect(try await Self.invoices.paymentFailed(failure, store: store) == .applied)
        let links = DunningMessages.Links(payURLTemplate: "https://pay.example.com/{invoice_id}")
        let unpaid = try await store.unpaidInvoices(of: Self.reference)
        // Down until day 15: the reminder is skipped, the block applies, the final notice is sent.
        let report = try await DunningJob.advance(
            unpaid, subscription: Self.reference, tenant: Self.org, store: store, links: links, now: Self.start.addingTimeInterval(15 * 86_400))
        #expect(report == JobRunReport(processed: 3, deferred: 0))
        #expect(try store.requests().map(\.templateKey) == ["dunning.payment_failed", "dunning.access_blocked", "dunning.final_notice"])
        #expect(try await store.doneSteps(provider: .stripe, invoiceID: "in_A") == [.notice, .reminder, .block, .finalNotice])
        #expect(store.projection(Self.reference)?.dunningBlock?.kind == .dunning)
        let again = try await DunningJob.advance(
            try await store.unpaidInvoices(of: Self.reference), subscription: Self.reference, tenant: Self.org, store: store, links: links,
            now: Self.start.addingTimeInterval(16 * 86_400))
        #expect(again == JobRunReport(processed: 0, deferred: 1))
        #expect(try store.entitlements().map(\.access) == [.granted, .blocked])
    }

    @Test func theEngagementCadenceSendsEachMessageOnceAndSkipsWhatItMissed() async throws {
        let store = InMemoryBilling()
        #expect(try await Self.apply(Step(kind: .activated, at: 0, status: "active"), id: "evt_a", to: store) == .applied)
        let product = EngagementMessages.Product(name: "Acme Analytics", appURL: "https://app.acme.example")
        func run(day: Double) async throws -> JobRunReport {
            try await EngagementJob.advance(Self.reference, tenant: Self.org, store: store, product: product, now: Self.start.addingTimeInterval(day * 86_400))
        }
        #expect(try await run(day: 6) == JobRunReport(processed: 0, deferred: 1))
        #expect(try await run(day: 8) == JobRunReport(processed: 1, deferred: 0))
        #expect(try await run(day: 8) == JobRunReport(processed: 0, deferred: 1), "never twice")
        // Down from day 8 to day 50: day 14 is skipped, day 30 and the survey are sent.
        #expect(try await run(day: 50) == JobRunReport(processed: 3, deferred: 0))
        let requests = try store.requests()
        #expect(requests.map(\.templateKey) == ["engagement.day_7", "engagement.day_30", "nps.day_45"])
        #expect(requests.map(\.dedupeKey).first == "engagement:stripe:sub_1QAbcLkdIwHu7ix2mM1nO2pQ:engagement.day_7")
        #expect(requests.first?.variables == ["product_name": "Acme Analytics", "getting_started_url": "https://app.acme.example/getting-started"])
        #expect(requests.last?.variables["survey_url"] == "https://app.acme.example/survey/nps")

        // A paused subscription gets nothing and nothing is recorded; resumed, it continues.
        #expect(try await Self.apply(Step(kind: .paused, at: 60 * 86_400, status: "paused"), id: "evt_p", to: store) == .applied)
        #expect(try await run(day: 61) == JobRunReport(processed: 0, deferred: 1))
        #expect(try store.requests().count == 3, "nothing requested while paused")
        #expect(try await Self.apply(Step(kind: .resumed, at: 62 * 86_400, status: "active"), id: "evt_r", to: store) == .applied)
        #expect(try await run(day: 63) == JobRunReport(processed: 1, deferred: 0))
        #expect(try store.requests().map(\.templateKey).last == "engagement.day_60")
    }
}
