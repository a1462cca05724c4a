import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Kafka
import PostgresNIO
import Storage
import Synchronization
import TallyTestSupport
import Testing

@testable import Reconciliation

/// Expected orders, from the pure rule to the inbox on PostgreSQL: the shape every business
/// service's tests take (decider, in-memory handler, store, router, inbox).
@Suite("Expected orders: decider and in-memory handler")
struct ExpectedOrderDeciderTests {
    static let usd = CurrencyCode(rawValue: "USD")!
    static let placed = Date(timeIntervalSince1970: 1_795_000_000)

    static func order(
        _ id: String = "ord_1", minor: Int64 = 4900, currency: CurrencyCode = usd, paymentRef: String? = "pi_1",
        placedAt: Date = placed, event: String = "evt_1"
    ) -> ExpectedOrder {
        ExpectedOrder(orderID: id, total: Money(amountMinor: minor, currency: currency), paymentRef: paymentRef, placedAt: placedAt, sourceEventID: event)
    }

    @Test func aNewOrderIsRecordedAndTheSameFactsAgainChangeNothing() {
        #expect(OrderExpectation.decide(recorded: nil, placed: Self.order()) == .record(Self.order()))
        #expect(
            OrderExpectation.decide(recorded: Self.order(), placed: Self.order(event: "evt_2")) == .alreadyRecorded,
            "the same order under another event id is the same fact")
    }

    @Test(arguments: [
        (order(minor: 5000), "total.amount_minor"),
        (order(currency: CurrencyCode(rawValue: "EUR")!), "total.currency"),
        (order(paymentRef: nil), "payment_ref"),
        (order(placedAt: placed.addingTimeInterval(60)), "placed_at"),
    ])
    func differentFactsAreAConflictNamingTheField(_ again: ExpectedOrder, field: String) {
        guard case .conflict(let conflict) = OrderExpectation.decide(recorded: Self.order(), placed: again) else {
            Issue.record("expected a conflict on \(field)")
            return
        }
        #expect(conflict.field == field)
        #expect(conflict.description.contains(field) && conflict.description.contains("ord_1"))
    }

    static func placedEvent(_ id: String, total: Int64 = 4900) throws -> EventEnvelope<OrderPlaced> {
        try TestEvents.fixture(OrderPlaced.self) { event in
            event.id = id
            event.data.total = Money(amountMinor: total, currency: usd)
        }
    }

    @Test func theHandlerRecordsOnceAndRefusesAChangedOrder() async throws {
        let store = InMemoryReconciliationStore()
        let handler = FactHandlers(logger: TestDatabase.logger, now: { Self.placed })
        #expect(try await handler.placed(try TestEvents.inboxEvent(try Self.placedEvent("evt_a")), store: store) == .applied)
        #expect(try await handler.placed(try TestEvents.inboxEvent(try Self.placedEvent("evt_b")), store: store) == .ignored)
        await #expect(throws: OrderConflict.self) {
            try await handler.placed(try TestEvents.inboxEvent(try Self.placedEvent("evt_c", total: 100)), store: store)
        }
        let kept = store.state.withLock { $0.orders["ord_7731"] }
        #expect(kept?.total.amountMinor == 4900 && kept?.sourceEventID == "evt_a", "the first statement stays")
    }
}

@Suite("Expected orders on PostgreSQL: store, router and inbox", .enabled(if: TestDatabase.enabled), .serialized)
struct ExpectedOrderIntegrationTests {
    static let acme = TenantID(rawValue: "org_01J9Z3ACME")!
    static let globex = TenantID(rawValue: "org_globex")!

    func withReconciliation(_ body: @Sendable (PostgresClient, ServiceSchema) async throws -> Void) async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("recon"), migrations: try TestService.migrations(of: .reconciliation)) { client, schema in
            try await body(client, schema)
        }
    }

    @Test func theStoreKeepsEachOrgsOrdersApart() async throws {
        try await withReconciliation { client, schema in
            let order = ExpectedOrderDeciderTests.order()
            try await client.withTenantTransaction(Self.acme, logger: TestDatabase.logger) { connection in
                let store = PostgresExpectedOrderStore(schema: schema, connection: connection, logger: TestDatabase.logger)
                try await store.insert(order)
                try await store.insert(ExpectedOrderDeciderTests.order(minor: 1, event: "evt_later"))
            }
            let queries = ExpectedOrderQueries(client: client, schema: schema, logger: TestDatabase.logger)
            #expect(try await queries.order(org: Self.acme, orderID: "ord_1") == order, "read back exactly; a second insert keeps the first")
            #expect(try await queries.order(org: Self.globex, orderID: "ord_1") == nil, "another org does not see it")
        }
    }

    @Test func theInboxRecordsPlacedOrdersOnceAndSetsAsideAChangedOne() async throws {
        try await withReconciliation { client, schema in
            let inbox = try TestService.inbox(for: ReconciliationService.definition(), client: client, schema: schema)
            let first = try ExpectedOrderDeciderTests.placedEvent("evt_a")
            let payment = try TestEvents.fixture(PaymentCaptured.self)
            let batch = [
                try TestEvents.message(first, offset: 0), try TestEvents.message(payment, offset: 1),
                try TestEvents.message(try ExpectedOrderDeciderTests.placedEvent("evt_b"), offset: 2),
            ]
            try await inbox.apply(batch)
            try await inbox.apply(batch)  // a redelivery
            try await inbox.apply([try TestEvents.message(try ExpectedOrderDeciderTests.placedEvent("evt_c", total: 100), offset: 3)])

            let admin = try TestDatabase.adminConfiguration()
            let (inboxRows, orders, deadLetters) = try await TestDatabase.withClient(admin) { admin in
                (
                    try await admin.strings("SELECT event_id || ' ' || coalesce(event_type, '-') || ' ' || outcome FROM \(unescaped: schema.name).inbox ORDER BY kafka_offset"),
                    try await admin.strings("SELECT org_id || ' ' || order_id || ' ' || total_minor || ' ' || source_event_id FROM \(unescaped: schema.name).expected_orders"),
                    try await admin.strings("SELECT topic || ' ' || (headers ->> 'x-tally-dlq-reason') FROM \(unescaped: schema.name).outbox WHERE topic LIKE '%dead-letters%'")
                )
            }
            #expect(
                inboxRows == [
                    "evt_a tally.order.placed.v1 applied", "\(payment.id) tally.payment.captured.v1 applied",
                    "evt_b tally.order.placed.v1 ignored", "evt_c tally.order.placed.v1 dead-lettered",
                ])
            #expect(orders == ["org_01J9Z3ACME ord_7731 4900 evt_a"])
            #expect(deadLetters == ["tally.reconciliation.dead-letters.v1 order ord_7731 was placed again with a different total.amount_minor: recorded 4900, received 100"])
        }
    }

    @Test func theRouterServesAnOrderToItsOrgOnly() async throws {
        try await withReconciliation { client, schema in
            try await client.withTenantTransaction(Self.acme, logger: TestDatabase.logger) { connection in
                try await PostgresExpectedOrderStore(schema: schema, connection: connection, logger: TestDatabase.logger).insert(ExpectedOrderDeciderTests.order())
            }
            let router = try TestService.router(for: ReconciliationService.definition(), client: client, schema: schema)
            let viewer = TestService.tokens.issue(subject: "vi", org: Self.acme.rawValue, role: .viewer)
            let stranger = TestService.tokens.issue(subject: "gx", org: Self.globex.rawValue, role: .owner)
            try await Application(router: router).test(.router) { http in
                let found = try await http.execute(
                    uri: "/admin/orgs/\(Self.acme)/orders/ord_1", method: .get,
                    headers: [.authorization: "Bearer \(viewer)"]
                ) { ($0.status, String(buffer: $0.body)) }
                #expect(found.0 == .ok)
                #expect(found.1.contains(#""amount_minor":4900"#) && found.1.contains(#""order_id":"ord_1""#), "\(found.1)")
                #expect(
                    try await http.execute(
                        uri: "/admin/orgs/\(Self.acme)/orders/ord_none", method: .get,
                        headers: [.authorization: "Bearer \(viewer)"]
                    ) { $0.status } == .notFound)
                #expect(
                    try await http.execute(
                        uri: "/admin/orgs/\(Self.acme)/orders/ord_1", method: .get,
                        headers: [.authorization: "Bearer \(stranger)"]
                    ) { $0.status } == .forbidden)
                #expect(try await http.execute(uri: "/admin/orgs/\(Self.acme)/orders/ord_1", method: .get) { $0.status } == .unauthorized)
            }
        }
    }
}

@Suite("Reconciliation OpenAPI document")
struct ReconciliationOpenAPITests {
    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationExists() throws {
        let documented = try OpenAPIAgreement.documentedOperations(of: .reconciliation)
        let routed = try OpenAPIAgreement.routedOperations(of: ReconciliationService.definition())
        #expect(documented.contains("GET /admin/orgs/{org}/orders/{orderID}"))
        #expect(routed == documented, "routed only: \(routed.subtracting(documented).sorted()); documented only: \(documented.subtracting(routed).sorted())")
    }
}
