import Contracts
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Kafka
import Logging
import PostgresNIO
import ServiceRuntime
import Storage
import TallyTestSupport
import Testing
import WebhookSignatures

@testable import IngestGateway

/// The gateway's front door against real PostgreSQL, driven through its router.
@Suite("Webhook intake", .enabled(if: TestDatabase.enabled), .serialized)
struct WebhookIntakeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let migrations = repository.appendingPathComponent("Services/IngestGateway/Migrations")
    static let org = TenantID(rawValue: "org_acme")!

    static func fixture(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: repository.appendingPathComponent("contracts/providers/\(path)")))
    }

    /// A migrated gateway schema of its own, its stores, and a router with the webhook route.
    struct Gateway: Sendable {
        let client: PostgresClient
        let schema: ServiceSchema
        let sources: SourceStore
        let inbox: WebhookInboxStore

        func app(maxBodySize: Int = 1 << 20) -> some ApplicationProtocol {
            let router = Router(context: ServiceRequestContext.self)
            router.add(middleware: ProblemMiddleware())
            WebhookRoutes(sources: sources, inbox: inbox, maxBodySize: maxBodySize, logger: TestDatabase.logger).add(to: router)
            return Application(router: router)
        }

        /// Counts rows as the database administrator, which row-level security does not limit.
        func count(_ table: String, _ condition: String = "true") async throws -> Int {
            let query = "SELECT count(*)::int FROM \(schema.name).\(table) WHERE \(condition)"
            return try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                for try await value in try await admin.query(PostgresQuery(unsafeSQL: query), logger: TestDatabase.logger).decode(Int.self) { return value }
                return -1
            }
        }

        /// The raw-webhook events the relay would publish, decoded, in publication order, once
        /// `count` are readable. (The feed reads only below the oldest transaction running in
        /// the cluster, and other suites' transactions run beside this one.)
        func rawEvents(count: Int) async throws -> [EventEnvelope<WebhookReceived>] {
            let feed = RawWebhookFeed(client: client, schema: schema, logger: TestDatabase.logger)
            var rows: [(position: CommitPosition, message: KafkaProducerMessage)] = []
            try await waitUntil("\(count) raw events are readable") {
                rows = try await feed.read(inFlight: [], limit: 100)
                return rows.count >= count
            }
            return try rows.map { row in
                #expect(row.message.topic == TallyTopic.rawWebhooks.name)
                return try CanonicalJSON.decode(EventEnvelope<WebhookReceived>.self, from: row.message.value ?? [])
            }
        }

        /// Reads tenant rows as the org (row-level security hides them otherwise).
        func inboxRows() async throws -> [(String, String, String, [UInt8])] {
            try await client.withTenantTransaction(WebhookIntakeTests.org, logger: TestDatabase.logger) { connection in
                var rows: [(String, String, String, [UInt8])] = []
                for try await (id, eventID, trust, body) in try await connection.query(
                    "SELECT id::text, provider_event_id, trust, body FROM \(unescaped: schema.name).webhook_inbox ORDER BY received_at", logger: TestDatabase.logger
                ).decode((String, String, String, ByteBuffer).self) {
                    rows.append((id, eventID, trust, Array(buffer: body)))
                }
                return rows
            }
        }
    }

    func withGateway(_ body: @Sendable (Gateway) async throws -> Void) async throws {
        let migrations = try Migration.load(from: Self.migrations)
        try await TestDatabase.withService(TestDatabase.uniqueService("gw"), migrations: migrations) { client, schema in
            let box = SecretBox(key: SymmetricKey(size: .bits256))
            let sources = SourceStore(client: client, schema: schema.name, box: box, audit: AuditLog(schema: schema), logger: TestDatabase.logger)
            try await body(Gateway(client: client, schema: schema, sources: sources, inbox: WebhookInboxStore(client: client, schema: schema, logger: TestDatabase.logger)))
        }
    }

    func post(_ client: some TestClientProtocol, _ path: String, body: [UInt8], headers: HTTPFields) async throws -> (HTTPResponse.Status, [String: Any]) {
        var fields = headers
        if fields[.contentType] == nil { fields[.contentType] = "application/json" }
        return try await client.execute(uri: path, method: .post, headers: fields, body: ByteBuffer(bytes: body)) { response in
            (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:])
        }
    }

    @Test func aSignedStripeWebhookIsStoredOnceWithItsRawEvent() async throws {
        try await withGateway { gateway in
            let (source, secret) = try await gateway.sources.create(
                org: Self.org, provider: .stripe, name: "Stripe live", toleranceSeconds: 300, secret: "whsec_acme_stripe_0123456789", actor: "test")
            #expect(secret == "whsec_acme_stripe_0123456789")
            let body = try Self.fixture("stripe/payment_intent.succeeded.json")
            let header = StripeSignatureVerifier.sign(body: body, secret: secret, at: Date())
            try await gateway.app().test(.router) { client in
                let (status, answer) = try await post(client, "/webhooks/\(source.id)", body: body, headers: [HTTPField.Name("Stripe-Signature")!: header])
                #expect(status == .ok)
                let inboxID = try #require(answer["inbox_id"] as? String)
                #expect(answer["duplicate"] as? Bool == false)

                // The same delivery again: same id, nothing new stored.
                let (againStatus, again) = try await post(client, "/webhooks/\(source.id)", body: body, headers: [HTTPField.Name("Stripe-Signature")!: header])
                #expect(againStatus == .ok)
                #expect(again["inbox_id"] as? String == inboxID)
                #expect(again["duplicate"] as? Bool == true)

                let rows = try await gateway.inboxRows()
                #expect(rows.count == 1)
                #expect(rows.first?.1 == "evt_3QAbcLkdIwHu7ix21Tq0aB9x")
                #expect(rows.first?.2 == "verified")
                #expect(rows.first?.3 == body, "the exact bytes are kept")
                // The stored row is its own event: built from it, with the exact bytes, never
                // copied into the outbox.
                let events = try await gateway.rawEvents(count: 1)
                #expect(events.map(\.id) == [inboxID])
                #expect(events.first.flatMap { Data(base64Encoded: $0.data.bodyBase64) } == Data(body))
                #expect(try await gateway.count("outbox") == 0)
                #expect(try await gateway.count("webhook_conflicts") == 0)
            }
        }
    }

    @Test func aDuplicateWithADifferentBodyIsFlaggedAsAConflict() async throws {
        try await withGateway { gateway in
            let (source, secret) = try await gateway.sources.create(org: Self.org, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "test")
            let first = try Self.fixture("stripe/payment_intent.succeeded.json")
            let altered = Array(String(decoding: first, as: UTF8.self).replacingOccurrences(of: "4900", with: "4901").utf8)
            try await gateway.app().test(.router) { client in
                let (_, one) = try await post(
                    client, "/webhooks/\(source.id)", body: first,
                    headers: [HTTPField.Name("Stripe-Signature")!: StripeSignatureVerifier.sign(body: first, secret: secret, at: Date())])
                let (status, two) = try await post(
                    client, "/webhooks/\(source.id)", body: altered,
                    headers: [HTTPField.Name("Stripe-Signature")!: StripeSignatureVerifier.sign(body: altered, secret: secret, at: Date())])
                #expect(status == .ok)
                #expect(two["inbox_id"] as? String == one["inbox_id"] as? String)
                #expect(try await gateway.inboxRows().count == 1)
            }
            let conflicts = try await gateway.client.withTenantTransaction(Self.org, logger: TestDatabase.logger) { connection in
                var count = 0
                for try await _ in try await connection.query("SELECT id FROM \(unescaped: gateway.schema.name).webhook_conflicts", logger: TestDatabase.logger) { count += 1 }
                return count
            }
            #expect(conflicts == 1)
        }
    }

    /// A verified webhook as the routes hand it to the store, for tests of the store itself.
    static func verified(from source: Source, eventID: String, body: String) -> IncomingWebhook {
        IncomingWebhook(
            source: source, providerEventID: eventID, providerEventType: "payment_intent.succeeded", trust: .verified,
            contentType: "application/json", body: Array(body.utf8), verificationHeaders: ["stripe-signature": "t=1,v1=00"], receivedAt: Date())
    }

    /// One intake call with repeats inside the batch and of an earlier row: each webhook gets
    /// its outcome in input order, only rows stored now get an event (in input order), and a
    /// repeat with another body is recorded as a conflict.
    @Test func aBatchWithRepeatsStoresEachIdOnceAndQueuesEventsInOrder() async throws {
        try await withGateway { gateway in
            let (source, _) = try await gateway.sources.create(org: Self.org, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "test")
            func webhook(_ eventID: String, _ body: String) -> IncomingWebhook { Self.verified(from: source, eventID: eventID, body: body) }
            let earlier = try await gateway.inbox.accept(webhook("evt_d", #"{"id":"evt_d"}"#))
            let outcomes = try await gateway.inbox.accept(
                batch: [
                    webhook("evt_c", #"{"id":"evt_c"}"#), webhook("evt_a", #"{"id":"evt_a"}"#), webhook("evt_c", #"{"id":"evt_c"}"#),
                    webhook("evt_d", #"{"id":"evt_d"}"#), webhook("evt_b", #"{"id":"evt_b"}"#), webhook("evt_c", #"{"id":"evt_c","v":2}"#),
                ], tenant: Self.org)
            guard case .accepted(let c) = outcomes[0], case .accepted(let a) = outcomes[1], case .accepted(let b) = outcomes[4] else {
                Issue.record("expected evt_c, evt_a and evt_b stored: \(outcomes)")
                return
            }
            #expect(outcomes[2] == .duplicate(inboxID: c, conflict: false))
            #expect(outcomes[3] == .duplicate(inboxID: earlier.inboxID, conflict: false))
            #expect(outcomes[5] == .duplicate(inboxID: c, conflict: true))
            #expect(try await gateway.count("webhook_inbox") == 4)
            #expect(try await gateway.count("webhook_conflicts", "inbox_id = '\(c)'") == 1)
            let events = try await gateway.rawEvents(count: 4).map(\.id)
            #expect(events == [earlier.inboxID, c, a, b].map { $0.uuidString.lowercased() }, "one event per stored row, in input order")
        }
    }

    /// A (source, event id) already stored under another org is not visible to this one: the
    /// batch fails as a whole and stores nothing, instead of answering with a row it cannot read.
    @Test func aRepeatOfARowInAnotherOrgFailsTheWholeBatch() async throws {
        try await withGateway { gateway in
            let (source, _) = try await gateway.sources.create(org: Self.org, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "test")
            func webhook(_ eventID: String, org: String) -> IncomingWebhook {
                var moved = source
                moved.orgID = org
                return Self.verified(from: moved, eventID: eventID, body: "{}")
            }
            _ = try await gateway.inbox.accept(webhook("evt_x", org: "org_other"))
            await #expect {
                _ = try await gateway.inbox.accept(batch: [webhook("evt_new", org: Self.org.rawValue), webhook("evt_x", org: Self.org.rawValue)], tenant: Self.org)
            } throws: { error in
                (error as? PostgresTransactionError)?.closureError is DuplicateNotVisible
            }
            #expect(try await gateway.count("webhook_inbox", "provider_event_id = 'evt_new'") == 0)
            #expect(try await gateway.count("webhooks") == 1, "only the other org's row")
        }
    }

    @Test func refusalsAreSpecificAndLeaveATrace() async throws {
        try await withGateway { gateway in
            let (source, secret) = try await gateway.sources.create(org: Self.org, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "test")
            let (otherSource, otherSecret) = try await gateway.sources.create(org: Self.org, provider: .stripe, name: "other", toleranceSeconds: 300, secret: nil, actor: "test")
            _ = otherSource
            let body = try Self.fixture("stripe/payment_intent.succeeded.json")
            let tampered = {
                var copy = body; copy[40] = UInt8(ascii: "Z"); return copy
            }()
            let signature = HTTPField.Name("Stripe-Signature")!
            try await gateway.app(maxBodySize: 4096).test(.router) { client in
                let cases: [(String, [UInt8], HTTPFields, HTTPResponse.Status, String)] = [
                    ("tampered body", tampered, [signature: StripeSignatureVerifier.sign(body: body, secret: secret, at: Date())], .unauthorized, "bad-signature"),
                    ("another source's secret", body, [signature: StripeSignatureVerifier.sign(body: body, secret: otherSecret, at: Date())], .unauthorized, "bad-signature"),
                    ("stale", body, [signature: StripeSignatureVerifier.sign(body: body, secret: secret, at: Date().addingTimeInterval(-301))], .unauthorized, "stale-timestamp"),
                    ("future", body, [signature: StripeSignatureVerifier.sign(body: body, secret: secret, at: Date().addingTimeInterval(302))], .unauthorized, "future-timestamp"),
                    ("no signature", body, [:], .badRequest, "missing-header"),
                    ("garbled signature", body, [signature: "t=yesterday"], .badRequest, "malformed-header"),
                    ("oversize", Array(repeating: UInt8(ascii: " "), count: 5000), [signature: "t=1,v1=00"], .contentTooLarge, "oversize-body"),
                    ("form body", body, [signature: "t=1,v1=00", .contentType: "application/x-www-form-urlencoded"], .unsupportedMediaType, "bad-content-type"),
                ]
                for (name, payload, headers, expectedStatus, reason) in cases {
                    try await client.execute(
                        uri: "/webhooks/\(source.id)", method: .post,
                        headers: headers.contains(where: { $0.name == .contentType }) ? headers : headers + [HTTPField(name: .contentType, value: "application/json")],
                        body: ByteBuffer(bytes: payload)
                    ) { response in
                        #expect(response.status == expectedStatus, "\(name)")
                        #expect(response.headers[.contentType] == "application/problem+json", "\(name)")
                        let problem = try JSONDecoder().decode(Problem.self, from: Data(buffer: response.body))
                        #expect(problem.type == "https://tally.dev/problems/webhook/\(reason)", "\(name)")
                        #expect(!(problem.detail ?? "").contains(secret) && !(problem.detail ?? "").contains("whsec"), "\(name) reveals no secret")
                    }
                }
                let (unknown, _) = try await post(client, "/webhooks/src_does_not_exist", body: body, headers: [signature: "t=1,v1=00"])
                #expect(unknown == .notFound)
            }
            #expect(try await gateway.inboxRows().isEmpty, "nothing refused was stored")
            #expect(try await gateway.count("webhooks") == 0)
            for reason in ["bad-signature", "stale-timestamp", "future-timestamp", "missing-header", "malformed-header", "oversize-body", "bad-content-type", "unknown-source"] {
                #expect(try await gateway.count("refused_requests", "reason = '\(reason)'") >= 1, "refusal \(reason) recorded")
            }
            #expect(try await gateway.count("refused_requests", "reason = 'bad-signature' AND body_sha256 IS NOT NULL AND body_size > 0") == 2)
        }
    }

    @Test func everyProviderSchemeIsAccepted() async throws {
        try await withGateway { gateway in
            let now = Date()
            let unix = String(Int64(now.timeIntervalSince1970))
            let (paddle, paddleSecret) = try await gateway.sources.create(org: Self.org, provider: .paddle, name: "paddle", toleranceSeconds: 300, secret: nil, actor: "t")
            let (hotmart, hottok) = try await gateway.sources.create(org: Self.org, provider: .hotmart, name: "hotmart", toleranceSeconds: 300, secret: nil, actor: "t")
            let (standard, standardSecret) = try await gateway.sources.create(org: Self.org, provider: .internal, name: "backend", toleranceSeconds: 300, secret: nil, actor: "t")
            let paddleBody = try Self.fixture("paddle/transaction.completed.json")
            let hotmartBody = try Self.fixture("hotmart/PURCHASE_APPROVED.json")
            let orderBody = try Self.fixture("internal/order.placed.json")
            try await gateway.app().test(.router) { client in
                let (p, _) = try await post(
                    client, "/webhooks/\(paddle.id)", body: paddleBody,
                    headers: [HTTPField.Name("Paddle-Signature")!: PaddleSignatureVerifier.sign(body: paddleBody, secret: paddleSecret, at: now)])
                #expect(p == .ok)
                let (h, _) = try await post(client, "/webhooks/\(hotmart.id)", body: hotmartBody, headers: [HTTPField.Name("X-HOTMART-HOTTOK")!: hottok])
                #expect(h == .ok)
                let signature = try #require(StandardWebhooksVerifier.sign(id: "ord_evt_01JD2W5R8T0V2X4Z6B8D0F2H4K", timestamp: now, body: orderBody, secret: standardSecret))
                let (s, _) = try await post(
                    client, "/webhooks/\(standard.id)", body: orderBody,
                    headers: [
                        HTTPField.Name("webhook-id")!: "ord_evt_01JD2W5R8T0V2X4Z6B8D0F2H4K", HTTPField.Name("webhook-timestamp")!: unix,
                        HTTPField.Name("webhook-signature")!: signature,
                    ])
                #expect(s == .ok)
            }
            let rows = try await gateway.inboxRows()
            #expect(Set(rows.map(\.1)) == ["evt_01jd2w5k9x3m7q4r8t6y1z0a2b", "2b7f0c1e-5d3a-4c8b-9e6f-1a2b3c4d5e6f", "ord_evt_01JD2W5R8T0V2X4Z6B8D0F2H4K"])
            #expect(rows.first { $0.1 == "2b7f0c1e-5d3a-4c8b-9e6f-1a2b3c4d5e6f" }?.2 == "low", "Hotmart is low-trust")
            #expect(rows.filter { $0.2 == "verified" }.count == 2)
            // The Hotmart token is never stored with the webhook.
            let headers = try await gateway.client.withTenantTransaction(Self.org, logger: TestDatabase.logger) { connection in
                var all: [String] = []
                for try await text in try await connection.query("SELECT headers::text FROM \(unescaped: gateway.schema.name).webhook_inbox", logger: TestDatabase.logger).decode(
                    String.self)
                { all.append(text) }
                return all.joined()
            }
            #expect(!headers.contains(hottok))
        }
    }

    @Test func rotationKeepsBothSecretsUntilTheOldOneExpires() async throws {
        try await withGateway { gateway in
            let (source, oldSecret) = try await gateway.sources.create(org: Self.org, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "t")
            let newSecret = try #require(
                try await gateway.sources.rotate(org: Self.org, id: source.id, newSecret: nil, previousExpireAt: Date().addingTimeInterval(3600), actor: "t"))
            #expect(newSecret != oldSecret)
            let body = try Self.fixture("stripe/charge.refunded.json")
            let other = try Self.fixture("stripe/payout.paid.json")
            let third = try Self.fixture("stripe/invoice.payment_failed.json")
            let signature = HTTPField.Name("Stripe-Signature")!
            try await gateway.app().test(.router) { client in
                do {
                    let (status, _) = try await post(
                        client, "/webhooks/\(source.id)", body: body, headers: [signature: StripeSignatureVerifier.sign(body: body, secret: oldSecret, at: Date())]);
                    #expect(status == .ok)
                }
                do {
                    let (status, _) = try await post(
                        client, "/webhooks/\(source.id)", body: other, headers: [signature: StripeSignatureVerifier.sign(body: other, secret: newSecret, at: Date())]);
                    #expect(status == .ok)
                }
            }
            // Rotating again with no grace period retires every earlier secret at once.
            let newest = try #require(try await gateway.sources.rotate(org: Self.org, id: source.id, newSecret: nil, previousExpireAt: Date(), actor: "t"))
            try await gateway.app().test(.router) { client in
                do {
                    let (status, _) = try await post(
                        client, "/webhooks/\(source.id)", body: third, headers: [signature: StripeSignatureVerifier.sign(body: third, secret: newSecret, at: Date())]);
                    #expect(status == .unauthorized)
                }
                do {
                    let (status, _) = try await post(
                        client, "/webhooks/\(source.id)", body: third, headers: [signature: StripeSignatureVerifier.sign(body: third, secret: newest, at: Date())]);
                    #expect(status == .ok)
                }
            }
            let audited = try await gateway.client.withTenantTransaction(Self.org, logger: TestDatabase.logger) { connection in
                var actions: [String] = []
                for try await action in try await connection.query("SELECT action FROM \(unescaped: gateway.schema.name).audit_log ORDER BY id", logger: TestDatabase.logger)
                    .decode(String.self)
                { actions.append(action) }
                return actions
            }
            #expect(audited == ["source.create", "source.rotate-secret", "source.rotate-secret"])
        }
    }

    @Test func aDisabledSourceRefusesEverything() async throws {
        try await withGateway { gateway in
            let (source, secret) = try await gateway.sources.create(org: Self.org, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "t")
            _ = try await gateway.sources.disable(org: Self.org, id: source.id, actor: "t")
            let body = try Self.fixture("stripe/payment_intent.succeeded.json")
            try await gateway.app().test(.router) { client in
                let (status, _) = try await post(
                    client, "/webhooks/\(source.id)", body: body,
                    headers: [HTTPField.Name("Stripe-Signature")!: StripeSignatureVerifier.sign(body: body, secret: secret, at: Date())])
                #expect(status == .unauthorized)
            }
            #expect(try await gateway.inboxRows().isEmpty)
        }
    }
}
