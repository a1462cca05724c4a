import Contracts
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Kafka
import PostgresNIO
import ServiceRuntime
import Storage
import Synchronization
import TallyTestSupport
import Testing

@testable import Notifications

/// A courier that records what it was given and answers from a script (per delivery id, in
/// order; `delivered` once the script runs out). It stands in for the channels only here, where
/// the worker's claiming, recording and scheduling are under test; the channels themselves are
/// tested against real servers (`SMTPClientTests`, `WebhookSenderTests`, the e2e acceptance).
final class ScriptedCourier: Courier {
    struct Sent: Sendable {
        var deliveryID: UUID
        var destination: Destination
        var subject: String
    }

    private let state = Mutex<(sent: [Sent], script: [UUID: [AttemptResult]], stall: Bool)>(([], [:], false))

    func script(_ id: UUID, _ results: [AttemptResult]) { state.withLock { $0.script[id] = results } }

    var sent: [Sent] { state.withLock { $0.sent } }

    func deliver(_ message: OutgoingMessage) async -> AttemptResult {
        state.withLock { state in
            state.sent.append(Sent(deliveryID: message.deliveryID, destination: message.destination, subject: message.rendered.subject))
            guard var queue = state.script[message.deliveryID], !queue.isEmpty else {
                return AttemptResult(outcome: .delivered, provider: "smtp:primary", replyCode: "250")
            }
            let next = queue.removeFirst()
            state.script[message.deliveryID] = queue
            return next
        }
    }
}

/// Holds one delivery's send for `delay`, then hands every message to `inner`.
struct SlowCourier: Courier {
    let slow: UUID
    let delay: Duration
    let inner: ScriptedCourier

    func deliver(_ message: OutgoingMessage) async -> AttemptResult {
        if message.deliveryID == slow { try? await Task.sleep(for: delay) }
        return await inner.deliver(message)
    }
}

/// A clock the test moves.
final class TestClock: Sendable {
    private let time: Mutex<Date>
    init(_ start: Date) { time = Mutex(start) }
    var now: Date { time.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { time.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var function: @Sendable () -> Date { { [self] in self.now } }
}

@Suite("Notifications on PostgreSQL", .enabled(if: TestDatabase.enabled), .serialized)
struct NotificationsIntegrationTests {
    static let acme = TenantID(rawValue: "org_notify_acme")!
    static let globex = TenantID(rawValue: "org_notify_globex")!
    static let customer = CustomerReference(provider: .stripe, customerID: "cus_QTally123")

    static let policy = RetryPolicy(base: .seconds(10), factor: 2, maximum: .seconds(40), maxAttempts: 3, jitter: 0)

    static func settings(limit: Int = 20) -> DeliverySettings {
        DeliverySettings(policy: policy, lease: .seconds(60), pollInterval: .milliseconds(50), recipientLimit: RecipientLimit(perHour: limit), contactWait: .seconds(120))
    }

    struct Harness {
        let client: PostgresClient
        let schema: ServiceSchema
        let clock: TestClock
        let courier: ScriptedCourier
        let inbox: InboxTransaction
        let definition: ServiceDefinition
        let secrets: SecretBox

        func worker(_ id: String = "worker-a", settings: DeliverySettings = NotificationsIntegrationTests.settings()) throws -> DeliveryWorker {
            DeliveryWorker(
                client: client, schema: schema, courier: courier, catalog: try TemplateCatalog.shipped(), secrets: secrets, settings: settings,
                logger: TestDatabase.logger,
                now: clock.function, workerID: id)
        }

        /// The first column of `sql`'s rows as text, read as `org` (row-level security applies).
        func strings(_ sql: String, org: TenantID = NotificationsIntegrationTests.acme) async throws -> [String] {
            let query = PostgresQuery(unsafeSQL: sql.replacingOccurrences(of: "$schema", with: schema.name))
            return try await client.withTenantTransaction(org, logger: TestDatabase.logger) { connection in
                var values: [String] = []
                for try await value in try await connection.query(query, logger: TestDatabase.logger).decode(String?.self) { values.append(value ?? "NULL") }
                return values
            }
        }
    }

    func withNotifications(_ body: @Sendable (Harness) async throws -> Void) async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("notifications"), migrations: try TestService.migrations(of: .notifications)) {
            client, schema in
            do {
                let clock = TestClock(Date(timeIntervalSince1970: 1_780_000_000))
                let courier = ScriptedCourier()
                let settings = try NotificationsSettings.forTests()
                let definition = try NotificationsService.definition(settings: settings, courier: courier, now: clock.function)
                let inbox = try TestService.inbox(for: definition, client: client, schema: schema)
                try await body(
                    Harness(client: client, schema: schema, clock: clock, courier: courier, inbox: inbox, definition: definition, secrets: settings.secrets))
            } catch {
                Issue.record("\(String(reflecting: error))")
            }
        }
    }

    static func request(
        _ id: String, dedupe: String, org: TenantID = acme, recipient: NotificationRecipient = NotificationRecipient(customer: customer),
        channels: [NotificationChannel] = [.email], variables: [String: String]? = nil, template: String = "dunning.payment_failed"
    ) throws -> EventEnvelope<NotificationRequested> {
        try TestEvents.fixture(NotificationRequested.self) { event in
            event.id = id
            event.tenant = org.rawValue
            event.data.dedupeKey = dedupe
            event.data.recipient = recipient
            event.data.channels = channels
            event.data.templateKey = template
            event.data.notBefore = nil
            if let variables { event.data.variables = variables }
        }
    }

    static func customerUpserted(_ id: String, email: String?, phone: String? = nil, at time: Date) throws -> EventEnvelope<CustomerUpserted> {
        try TestEvents.fixture(CustomerUpserted.self) { event in
            event.id = id
            event.tenant = acme.rawValue
            event.data.origin.provider = .stripe
            event.data.customerID = customer.customerID
            event.data.email = email
            event.data.phone = phone
            event.data.name = "Ana Souza"
            event.data.origin.occurredAt = time
        }
    }

    static func id(_ dedupe: String, _ org: TenantID = acme) -> UUID { DeliveryIdentity.deliveryID(org: org, dedupeKey: dedupe) }

    // MARK: Requests

    @Test func aRequestTwiceOrReplayedCreatesOneDeliverySentOnceToTheContact() async throws {
        try await withNotifications { h in
            let at = h.clock.now
            try await h.inbox.apply([
                try TestEvents.message(try Self.customerUpserted("evt_cus_1", email: "ana@example.com", at: at), offset: 0),
                try TestEvents.message(try Self.request("evt_req_1", dedupe: "invoice:in_1:dunning:payment_failed"), offset: 1),
                try TestEvents.message(try Self.request("evt_req_1_again", dedupe: "invoice:in_1:dunning:payment_failed"), offset: 2),
            ])
            try await h.inbox.apply([try TestEvents.message(try Self.request("evt_req_1", dedupe: "invoice:in_1:dunning:payment_failed"), offset: 1)])
            #expect(try await h.strings("SELECT count(*)::text FROM $schema.deliveries") == ["1"])

            try await h.worker().runOnce()
            try await h.worker().runOnce()
            let sent = h.courier.sent
            #expect(sent.count == 1)
            #expect(sent.first?.destination == .email(address: "ana@example.com", name: "Ana Souza"))
            let id = Self.id("invoice:in_1:dunning:payment_failed")
            #expect(try await h.strings("SELECT status || ':' || attempts || ':' || provider FROM $schema.deliveries") == ["sent:1:smtp:primary"])
            #expect(try await h.strings("SELECT outcome FROM $schema.delivery_attempts WHERE delivery_id = '\(id)'") == ["delivered"])
            let events = try await h.strings("SELECT convert_from(payload, 'UTF8') FROM $schema.outbox WHERE topic = 'tally.notifications.deliveries.v1'")
            #expect(events.count == 1)
            let announced = try CanonicalJSON.decode(EventEnvelope<NotificationDelivery>.self, from: Array(try #require(events.first).utf8))
            #expect(announced.data.status == .sent && announced.data.deliveryID == id.uuidString.lowercased() && announced.data.attempts == 1)
            #expect(announced.data.customer == Self.customer)
            #expect(!events[0].contains("ana@example.com"), "the delivery event carries no address")
        }
    }

    @Test func aRequestBeforeItsCustomerWaitsAndIsSentWhenTheContactArrives() async throws {
        try await withNotifications { h in
            try await h.inbox.apply([try TestEvents.message(try Self.request("evt_req_2", dedupe: "early"), offset: 0)])
            try await h.worker().runOnce()
            #expect(h.courier.sent.isEmpty)
            #expect(try await h.strings("SELECT status || ':' || last_reason FROM $schema.deliveries") == ["scheduled:awaiting_contact"])
            try await h.inbox.apply([try TestEvents.message(try Self.customerUpserted("evt_cus_2", email: "ana@example.com", at: h.clock.now), offset: 1)])
            try await h.worker().runOnce()
            #expect(h.courier.sent.count == 1)

            // An older upsert does not overwrite a newer one.
            try await h.inbox.apply([
                try TestEvents.message(try Self.customerUpserted("evt_cus_old", email: "old@example.com", at: h.clock.now.addingTimeInterval(-3600)), offset: 2)
            ])
            #expect(try await h.strings("SELECT email FROM $schema.contacts") == ["ana@example.com"])

            // A customer that never arrives: undeliverable once the wait is over.
            try await h.inbox.apply([
                try TestEvents.message(
                    try Self.request("evt_req_3", dedupe: "never", recipient: NotificationRecipient(customer: CustomerReference(provider: .paddle, customerID: "ctm_x"))),
                    offset: 3)
            ])
            h.clock.advance(121)
            try await h.worker().runOnce()
            #expect(try await h.strings("SELECT status || ':' || last_reason FROM $schema.deliveries WHERE dedupe_key = 'never'") == ["undeliverable:no_contact"])
        }
    }

    @Test func noAddressMissingVariablesAndUnknownTemplatesAreUndeliverableWithTheirReason() async throws {
        try await withNotifications { h in
            let variables = ["customer_name": "Ana", "amount": "R$ 10,00", "invoice_number": "INV-1", "pay_url": "https://pay.example/1", "due_date": "2026-12-10"]
            try await h.inbox.apply([
                try TestEvents.message(try Self.customerUpserted("evt_cus_3", email: "ana@example.com", at: h.clock.now), offset: 0),
                try TestEvents.message(try Self.request("evt_a", dedupe: "no-phone", channels: [.whatsapp]), offset: 1),
                try TestEvents.message(
                    try Self.request("evt_b", dedupe: "no-vars", recipient: NotificationRecipient(address: NotificationAddress(email: "ops@example.com")), variables: [:]),
                    offset: 2),
                try TestEvents.message(try Self.request("evt_c", dedupe: "bad-template", template: "no.such"), offset: 3),
                try TestEvents.message(
                    try Self.request(
                        "evt_d", dedupe: "explicit", recipient: NotificationRecipient(address: NotificationAddress(email: "ops@example.com")), variables: variables),
                    offset: 4),
            ])
            try await h.worker().runOnce()
            let rows = try await h.strings("SELECT dedupe_key || '=' || status || ':' || coalesce(last_reason, '') FROM $schema.deliveries ORDER BY dedupe_key")
            #expect(
                rows == ["bad-template=undeliverable:template_unknown", "explicit=sent:", "no-phone=undeliverable:no_address", "no-vars=undeliverable:template_variable_missing"])
            let undeliverable = try await h.strings(
                "SELECT count(*)::text FROM $schema.outbox WHERE convert_from(payload, 'UTF8') LIKE '%\"status\":\"undeliverable\"%'")
            #expect(undeliverable == ["3"])
        }
    }

    // MARK: The worker

    @Test func transientFailuresFollowTheScheduleThenDieAndAReplaySendsIt() async throws {
        try await withNotifications { h in
            try await h.inbox.apply([
                try TestEvents.message(try Self.customerUpserted("evt_cus_4", email: "ana@example.com", at: h.clock.now), offset: 0),
                try TestEvents.message(try Self.request("evt_req_4", dedupe: "flaky"), offset: 1),
            ])
            let id = Self.id("flaky")
            let busy = AttemptResult(outcome: .transient, provider: "smtp:primary", replyCode: "451", reason: "smtp_4xx", detail: "451 try later")
            h.courier.script(id, [busy, busy, busy])
            let start = h.clock.now
            try await h.worker().runOnce()
            #expect(
                try await h.strings("SELECT status || ':' || extract(epoch FROM next_attempt_at - '\(RFC3339.string(start))'::timestamptz)::int FROM $schema.deliveries") == [
                    "retrying:10"
                ])
            h.clock.advance(5)
            try await h.worker().runOnce()
            #expect(h.courier.sent.count == 1, "not due yet")
            h.clock.advance(5)
            try await h.worker().runOnce()
            #expect(try await h.strings("SELECT status || ':' || round_attempts FROM $schema.deliveries") == ["retrying:2"])
            h.clock.advance(20)
            try await h.worker().runOnce()
            #expect(try await h.strings("SELECT status || ':' || last_reason FROM $schema.deliveries") == ["dead:attempts_exhausted:smtp_4xx"])
            #expect(
                try await h.strings("SELECT string_agg(outcome || '/' || reply_code, ',' ORDER BY number) FROM $schema.delivery_attempts") == [
                    "transient/451,transient/451,transient/451"
                ])

            // Replay through the admin API, then the worker sends it.
            let router = try TestService.router(for: h.definition, client: h.client, schema: h.schema)
            let support = TestService.tokens.issue(subject: "sam", org: Self.acme.rawValue, role: .support)
            let viewer = TestService.tokens.issue(subject: "vic", org: Self.acme.rawValue, role: .viewer)
            try await Application(router: router).test(.router) { http in
                func call(_ method: HTTPRequest.Method, _ path: String, _ token: String, _ body: String? = nil) async throws -> (HTTPResponse.Status, String) {
                    try await http.execute(
                        uri: "/admin/orgs/\(Self.acme)/\(path)", method: method, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                        body: body.map { ByteBuffer(string: $0) }
                    ) { ($0.status, String(buffer: $0.body)) }
                }
                #expect(try await call(.post, "deliveries/\(id)/replay", viewer).0 == .forbidden)
                let dry = try await call(.post, "deliveries/replay", support, #"{"dry_run":true}"#)
                #expect(dry.0 == .ok && dry.1.contains(#""matched":1"#) && dry.1.contains("attempts_exhausted:smtp_4xx"), "\(dry.1)")
                let replayed = try await call(.post, "deliveries/\(id)/replay", support, #"{"reason":"relay fixed"}"#)
                #expect(replayed.0 == .ok && replayed.1.contains(#""status":"scheduled""#), "\(replayed.1)")
                let again = try await call(.post, "deliveries/\(id)/replay", support)
                #expect(again.0 == .conflict && again.1.contains("delivery-not-dead"), "\(again.1)")
                let audit = try await call(.get, "audit-log", viewer)
                #expect(audit.1.contains("delivery.replay") && audit.1.contains("relay fixed"), "\(audit.1)")
            }
            try await h.worker().runOnce()
            #expect(try await h.strings("SELECT status || ':' || round || ':' || attempts FROM $schema.deliveries") == ["sent:2:4"])
        }
    }

    @Test func twoWorkersNeverSendTheSameDelivery() async throws {
        try await withNotifications { h in
            var batch = [try TestEvents.message(try Self.customerUpserted("evt_cus_5", email: "ana@example.com", at: h.clock.now), offset: 0)]
            for index in 0..<40 { batch.append(try TestEvents.message(try Self.request("evt_many_\(index)", dedupe: "many:\(index)"), offset: Int64(index + 1))) }
            try await h.inbox.apply(batch)
            let one = try h.worker("worker-a", settings: Self.settings(limit: 1000))
            let two = try h.worker("worker-b", settings: Self.settings(limit: 1000))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in [one, two, one, two] { group.addTask { try await worker.runOnce() } }
                try await group.waitForAll()
            }
            // Then whatever is left, until nothing is due (each batch claims at most eight).
            while try await one.runOnce() > 0 {}
            let ids = h.courier.sent.map(\.deliveryID)
            #expect(ids.count == 40 && Set(ids).count == 40, "\(ids.count) sends of \(Set(ids).count) deliveries")
            #expect(try await h.strings("SELECT count(*)::text FROM $schema.deliveries WHERE status = 'sent'") == ["40"])
        }
    }

    @Test func theRunningWorkerKeepsItsSlotsFullAndSendsEveryDeliveryOnce() async throws {
        try await withNotifications { h in
            var batch = [try TestEvents.message(try Self.customerUpserted("evt_cus_run", email: "ana@example.com", at: h.clock.now), offset: 0)]
            for index in 0..<50 { batch.append(try TestEvents.message(try Self.request("evt_run_\(index)", dedupe: "run:\(index)"), offset: Int64(index + 1))) }
            try await h.inbox.apply(batch)
            var settings = Self.settings(limit: 1000)
            settings.concurrency = 4
            let worker = try h.worker(settings: settings)
            let running = Task { try await worker.run() }
            let deadline = ContinuousClock.now + .seconds(20)
            while h.courier.sent.count < 50 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            running.cancel()
            _ = await running.result
            let ids = h.courier.sent.map(\.deliveryID)
            #expect(ids.count == 50 && Set(ids).count == 50, "\(ids.count) sends of \(Set(ids).count) deliveries")
            #expect(try await h.strings("SELECT count(*)::text FROM $schema.deliveries WHERE status = 'sent'") == ["50"])
            #expect(try await h.strings("SELECT runs::text FROM $schema.job_heartbeats WHERE job = 'notifications.delivery_worker'") != [])
        }
    }

    @Test func aSlowSendDoesNotKeepNewlyDueDeliveriesWaiting() async throws {
        try await withNotifications { h in
            try await h.inbox.apply([
                try TestEvents.message(try Self.customerUpserted("evt_cus_slow", email: "ana@example.com", at: h.clock.now), offset: 0),
                try TestEvents.message(try Self.request("evt_slow", dedupe: "slow"), offset: 1),
            ])
            let slowID = Self.id("slow")
            let courier = SlowCourier(slow: slowID, delay: .seconds(4), inner: h.courier)
            let worker = DeliveryWorker(
                client: h.client, schema: h.schema, courier: courier, catalog: try TemplateCatalog.shipped(), secrets: h.secrets, settings: Self.settings(limit: 1000),
                logger: TestDatabase.logger, now: h.clock.function, workerID: "worker-slow")
            let running = Task { try await worker.run() }
            try await Task.sleep(for: .milliseconds(500))
            try await h.inbox.apply([try TestEvents.message(try Self.request("evt_fast", dedupe: "fast"), offset: 2)])
            let started = ContinuousClock.now
            while !h.courier.sent.contains(where: { $0.deliveryID == Self.id("fast") }) && ContinuousClock.now - started < .seconds(10) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let waited = ContinuousClock.now - started
            running.cancel()
            _ = await running.result
            #expect(h.courier.sent.contains { $0.deliveryID == Self.id("fast") })
            #expect(waited < .seconds(2), "the fast one waited \(waited) behind the slow send")
            #expect(h.courier.sent.contains { $0.deliveryID == slowID })
        }
    }

    @Test func aCrashBetweenSendAndRecordResendsOnceWhenTheLeaseRunsOut() async throws {
        try await withNotifications { h in
            try await h.inbox.apply([
                try TestEvents.message(try Self.customerUpserted("evt_cus_6", email: "ana@example.com", at: h.clock.now), offset: 0),
                try TestEvents.message(try Self.request("evt_req_6", dedupe: "crash"), offset: 1),
            ])
            // The first worker claims and sends, then "dies" before recording.
            let crashed = try h.worker("worker-crashed")
            let due = try await crashed.dueDeliveries(limit: 8)
            let claims = try await crashed.claim(org: Self.acme, ids: due.map(\.id))
            #expect(claims.count == 1)
            _ = await h.courier.deliver(try #require(claims.first).message)
            let survivor = try h.worker("worker-survivor")
            try await survivor.runOnce()
            #expect(h.courier.sent.count == 1, "the lease still holds")
            h.clock.advance(61)
            try await survivor.runOnce()
            try await survivor.runOnce()
            #expect(h.courier.sent.count == 2, "sent again exactly once")
            #expect(Set(h.courier.sent.map(\.deliveryID)).count == 1)
            #expect(try await h.strings("SELECT string_agg(outcome, ',' ORDER BY number) FROM $schema.delivery_attempts") == ["abandoned,delivered"])
            // The dead worker's late record changes nothing.
            try await crashed.record(AttemptResult(outcome: .delivered, provider: "smtp:primary"), for: try #require(claims.first))
            #expect(try await h.strings("SELECT status || ':' || attempts FROM $schema.deliveries") == ["sent:2"])
        }
    }

    @Test func theRecipientLimitHoldsMessagesBeyondItUntilTheHourHasRoom() async throws {
        try await withNotifications { h in
            try await h.inbox.apply([
                try TestEvents.message(try Self.customerUpserted("evt_cus_7", email: "ana@example.com", at: h.clock.now), offset: 0),
                try TestEvents.message(try Self.request("evt_l1", dedupe: "limit:1"), offset: 1),
                try TestEvents.message(try Self.request("evt_l2", dedupe: "limit:2"), offset: 2),
            ])
            let worker = try h.worker(settings: Self.settings(limit: 1))
            try await worker.runOnce()
            #expect(h.courier.sent.count == 1)
            #expect(try await h.strings("SELECT last_reason FROM $schema.deliveries WHERE status = 'scheduled'") == ["recipient_limit"])
            h.clock.advance(3601)
            try await worker.runOnce()
            #expect(h.courier.sent.count == 2)
        }
    }

    @Test func anEndpointThatAnswers410IsDisabledAndOrgsNeverSeeEachOthersDeliveries() async throws {
        try await withNotifications { h in
            let router = try TestService.router(for: h.definition, client: h.client, schema: h.schema)
            let admin = TestService.tokens.issue(subject: "ada", org: Self.acme.rawValue, role: .admin)
            let support = TestService.tokens.issue(subject: "sam", org: Self.acme.rawValue, role: .support)
            let other = TestService.tokens.issue(subject: "gus", org: Self.globex.rawValue, role: .admin)
            try await Application(router: router).test(.router) { http in
                func call(
                    _ method: HTTPRequest.Method, _ path: String, _ token: String, org: TenantID = Self.acme, _ body: String? = nil
                ) async throws -> (
                    HTTPResponse.Status, String
                ) {
                    try await http.execute(
                        uri: "/admin/orgs/\(org)/\(path)", method: method, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                        body: body.map { ByteBuffer(string: $0) }
                    ) { ($0.status, String(buffer: $0.body)) }
                }
                for refused in ["http://example.com/hook", "https://10.0.0.1/hook", "https://169.254.169.254/latest", "https://[::ffff:127.0.0.1]/x", "https://u:p@example.com/"] {
                    let answer = try await call(.post, "webhook-endpoints", admin, #"{"url":"\#(refused)"}"#)
                    #expect(answer.0 == .unprocessableContent && answer.1.contains("endpoint-url-refused"), "\(refused): \(answer.1)")
                }
                #expect(try await call(.post, "webhook-endpoints", support, #"{"url":"https://93.184.216.34/hook"}"#).0 == .forbidden)
                let created = try await call(.post, "webhook-endpoints", admin, #"{"url":"https://93.184.216.34/hook","description":"crm"}"#)
                #expect(created.0 == .created && created.1.contains(#""secret":"whsec_"#), "\(created.1)")
                let endpoint = try #require(created.1.firstMatch(of: /"id":"(we_[0-9a-f]+)"/).map { String($0.1) })
                #expect(!(try await call(.get, "webhook-endpoints", admin).1.contains("whsec_")), "the secret is shown once")

                let body = #"""
                    {"dedupe_key":"hook:1","template_key":"invoice.link","channels":["webhook"],"recipient":{"address":{"endpoint_id":"\#(endpoint)"}},
                     "variables":{"customer_name":"Ana","invoice_number":"INV-1","amount":"R$ 10,00","invoice_url":"https://x.example/i","expires_at":"2026-12-31"}}
                    """#
                let requested = try await call(.post, "notifications", support, body)
                #expect(requested.0 == .accepted, "\(requested.1)")
                #expect(try await call(.post, "notifications", support, body).0 == .ok, "the same dedupe key again")
                h.courier.script(Self.id("hook:1"), [AttemptResult(outcome: .endpointGone, provider: "webhook", replyCode: "410", reason: "http_410")])
                try await h.worker().runOnce()
                #expect(try await call(.get, "webhook-endpoints/\(endpoint)", admin).1.contains(#""status":"disabled""#))
                let listed = try await call(.get, "deliveries?status=dead&channel=webhook", support)
                #expect(listed.1.contains("hook:1"), "\(listed.1)")
                #expect(try await call(.get, "deliveries?status=bogus", support).0 == .badRequest)
                #expect(!(try await call(.get, "deliveries", other, org: Self.globex).1.contains("hook:1")))
                #expect(try await call(.get, "deliveries/\(Self.id("hook:1"))", other, org: Self.globex).0 == .notFound)
                #expect(try await call(.get, "deliveries", other).0 == .forbidden, "a token of another org")
            }
        }
    }

    @Test func erasingACustomerDeletesTheContactRedactsDeliveriesAndStopsWaitingOnes() async throws {
        try await withNotifications { h in
            try await h.inbox.apply([
                try TestEvents.message(try Self.customerUpserted("evt_cus_9", email: "ana@example.com", at: h.clock.now), offset: 0),
                try TestEvents.message(try Self.request("evt_e1", dedupe: "erase:sent"), offset: 1),
            ])
            try await h.worker().runOnce()
            try await h.inbox.apply([try TestEvents.message(try Self.request("evt_e2", dedupe: "erase:waiting"), offset: 2)])
            let router = try TestService.router(for: h.definition, client: h.client, schema: h.schema)
            let admin = TestService.tokens.issue(subject: "ada", org: Self.acme.rawValue, role: .admin)
            let support = TestService.tokens.issue(subject: "sam", org: Self.acme.rawValue, role: .support)
            try await Application(router: router).test(.router) { http in
                func call(_ method: HTTPRequest.Method, _ path: String, _ token: String) async throws -> (HTTPResponse.Status, String) {
                    try await http.execute(uri: "/admin/orgs/\(Self.acme)/\(path)", method: method, headers: [.authorization: "Bearer \(token)"]) {
                        ($0.status, String(buffer: $0.body))
                    }
                }
                let path = "contacts/stripe/\(Self.customer.customerID)"
                #expect(try await call(.get, path, support).1.contains("ana@example.com"))
                #expect(try await call(.delete, path, support).0 == .forbidden)
                let erased = try await call(.delete, path, admin)
                #expect(erased.0 == .ok, "\(erased.1)")
                #expect(erased.1.contains(#""contacts":1"#) && erased.1.contains(#""deliveries_redacted":2"#) && erased.1.contains(#""deliveries_stopped":1"#), "\(erased.1)")
                #expect(try await call(.get, path, support).0 == .notFound)
                let audit = try await call(.get, "audit-log", admin)
                #expect(audit.1.contains("contact.erase") && !audit.1.contains("ana@example.com"), "\(audit.1)")
            }
            #expect(try await h.strings("SELECT count(*)::text FROM $schema.contacts") == ["0"])
            #expect(
                try await h.strings("SELECT dedupe_key || '=' || status || ':' || variables::text FROM $schema.deliveries ORDER BY dedupe_key") == [
                    "erase:sent=sent:{}", "erase:waiting=undeliverable:{}",
                ])
        }
    }

    @Test func theDeliveryListPagesByKeysetWithoutGapsOrRepeats() async throws {
        try await withNotifications { h in
            var batch = [try TestEvents.message(try Self.customerUpserted("evt_cus_8", email: "ana@example.com", at: h.clock.now), offset: 0)]
            for index in 0..<7 { batch.append(try TestEvents.message(try Self.request("evt_page_\(index)", dedupe: "page:\(index)"), offset: Int64(index + 1))) }
            try await h.inbox.apply(batch)
            let queries = NotificationQueries(client: h.client, schema: h.schema, logger: TestDatabase.logger, secrets: h.secrets)
            var seen: [String] = []
            var after: (Date, UUID)?
            repeat {
                let page = try await queries.deliveries(org: Self.acme, status: nil, channel: nil, after: after, limit: 3)
                seen += page.map(\.dedupeKey)
                after = page.count == 3 ? page.last.flatMap { DeliveryCursor.decode(DeliveryCursor.encode($0)) } : nil
            } while after != nil
            #expect(seen.count == 7 && Set(seen).count == 7, "\(seen)")
        }
    }
}

extension NotificationsSettings {
    /// Settings for tests that inject their own courier: one relay nobody connects to, WhatsApp
    /// offline, the default worker pacing.
    static func forTests() throws -> NotificationsSettings {
        let from = try #require(NotificationsSettings.address("Tally Tests <notifications@tally.test>"))
        return NotificationsSettings(
            from: from, relays: [SMTPRelay(name: "primary", host: "127.0.0.1", port: 1, tls: .none, heloName: "tests")], whatsApp: WhatsAppSettings(),
            secrets: SecretBox(key: SymmetricKey(size: .bits256)))
    }
}
