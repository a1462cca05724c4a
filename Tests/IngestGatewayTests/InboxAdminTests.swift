import Contracts
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Kafka
import Logging
import PostgresNIO
import Prometheus
import ServiceRuntime
import Storage
import TallyTestSupport
import Testing
import WebhookSignatures

@testable import IngestGateway

/// The admin API over sources and the inbox, and the per-source rate limit, on real PostgreSQL.
@Suite("Gateway admin API", .enabled(if: TestDatabase.enabled), .serialized)
struct InboxAdminTests {
    let tokens = AdminTokens(secret: ServiceConfiguration.developmentAdminTokenSecret)

    func withRouter(_ body: @Sendable (Router<ServiceRequestContext>, PostgresClient, ServiceSchema) async throws -> Void) async throws {
        let migrations = try Migration.load(from: WebhookIntakeTests.migrations)
        try await TestDatabase.withService(TestDatabase.uniqueService("gwadmin"), migrations: migrations) { client, schema in
            let definition = IngestGatewayService.definition(GatewaySettings(box: SecretBox(key: SymmetricKey(size: .bits256))))
            let router = try TestService.router(for: definition, client: client, schema: schema)
            try await body(router, client, schema)
        }
    }

    func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    func json(_ response: TestResponse) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:]
    }

    @Test func sourcesInboxReplayAndLogsThroughTheAdminAPI() async throws {
        try await withRouter { router, client, schema in
            let admin = tokens.issue(subject: "ada", org: "org_acme", role: .admin)
            let support = tokens.issue(subject: "sam", org: "org_acme", role: .support)
            try await Application(router: router).test(.router) { http in
                // Create a source: the secret is in this response only.
                let created = try await http.execute(
                    uri: "/admin/orgs/org_acme/sources", method: .post, headers: bearer(admin),
                    body: ByteBuffer(string: #"{"provider":"stripe","name":"Stripe EU"}"#)
                ) { try json($0) }
                let source = try #require(created["source"] as? [String: Any])
                let sourceID = try #require(source["id"] as? String)
                let secret = try #require(created["secret"] as? String)
                let listed = try await http.execute(uri: "/admin/orgs/org_acme/sources", method: .get, headers: bearer(support)) { String(buffer: $0.body) }
                #expect(listed.contains(sourceID) && !listed.contains(secret), "listing never shows the secret")

                // Three webhooks, one of them twice with a different body, one refused.
                var ids: [String] = []
                for name in ["payment_intent.succeeded", "charge.refunded", "payout.paid"] {
                    let body = try WebhookIntakeTests.fixture("stripe/\(name).json")
                    let answer = try await http.execute(
                        uri: "/webhooks/\(sourceID)", method: .post,
                        headers: [.contentType: "application/json", HTTPField.Name("Stripe-Signature")!: StripeSignatureVerifier.sign(body: body, secret: secret, at: Date())],
                        body: ByteBuffer(bytes: body)
                    ) { try json($0) }
                    ids.append(try #require(answer["inbox_id"] as? String))
                }
                let altered = Array(String(decoding: try WebhookIntakeTests.fixture("stripe/payout.paid.json"), as: UTF8.self).replacingOccurrences(of: "3240", with: "3241").utf8)
                _ = try await http.execute(
                    uri: "/webhooks/\(sourceID)", method: .post,
                    headers: [.contentType: "application/json", HTTPField.Name("Stripe-Signature")!: StripeSignatureVerifier.sign(body: altered, secret: secret, at: Date())],
                    body: ByteBuffer(bytes: altered)
                ) { _ in }
                _ = try await http.execute(
                    uri: "/webhooks/\(sourceID)", method: .post,
                    headers: [.contentType: "application/json", HTTPField.Name("Stripe-Signature")!: "t=1,v1=\(String(repeating: "0", count: 64))"],
                    body: ByteBuffer(string: "{}")
                ) { _ in }

                // Cursor pagination covers every entry once, newest first.
                var seen: [String] = []
                var cursor: String?
                repeat {
                    let uri = "/admin/orgs/org_acme/inbox?limit=2" + (cursor.map { "&cursor=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" } ?? "")
                    let page = try await http.execute(uri: uri, method: .get, headers: bearer(support)) { try json($0) }
                    seen += ((page["entries"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
                    cursor = page["next_cursor"] as? String
                } while cursor != nil
                #expect(seen == ids.reversed())
                let filtered = try await http.execute(uri: "/admin/orgs/org_acme/inbox?event_type=charge.refunded", method: .get, headers: bearer(support)) { try json($0) }
                #expect(((filtered["entries"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String } == [ids[1]])
                let badFilter = try await http.execute(uri: "/admin/orgs/org_acme/inbox?status=lost", method: .get, headers: bearer(support)) { $0.status }
                #expect(badFilter == .badRequest)

                // The raw body only for owner and admin.
                let asSupport = try await http.execute(uri: "/admin/orgs/org_acme/inbox/\(ids[0])", method: .get, headers: bearer(support)) { try json($0) }
                #expect(asSupport["body_base64"] == nil)
                let asAdmin = try await http.execute(uri: "/admin/orgs/org_acme/inbox/\(ids[0])", method: .get, headers: bearer(admin)) { try json($0) }
                let raw = try #require((asAdmin["body_base64"] as? String).flatMap { Data(base64Encoded: $0) })
                #expect(Array(raw) == (try WebhookIntakeTests.fixture("stripe/payment_intent.succeeded.json")))

                // Replay: a dry run changes nothing, support may not execute, admin may.
                let filter = #"{"filter":{"provider":"stripe","event_type":"payout.paid"}"#
                let dry = try await http.execute(uri: "/admin/orgs/org_acme/inbox/replay", method: .post, headers: bearer(admin), body: ByteBuffer(string: filter + "}")) {
                    try json($0)
                }
                #expect(dry["dry_run"] as? Bool == true)
                #expect(dry["count"] as? Int == 1)
                #expect(dry["ids"] as? [String] == [ids[2]])
                let refused = try await http.execute(
                    uri: "/admin/orgs/org_acme/inbox/replay", method: .post, headers: bearer(support), body: ByteBuffer(string: filter + #","execute":true}"#)
                ) { $0.status }
                #expect(refused == .forbidden)
                let executed = try await http.execute(
                    uri: "/admin/orgs/org_acme/inbox/replay", method: .post, headers: bearer(admin), body: ByteBuffer(string: filter + #","execute":true}"#)
                ) { try json($0) }
                let replayID = try #require(executed["replay_id"] as? String)
                #expect(executed["count"] as? Int == 1)

                let refusals = try await http.execute(uri: "/admin/orgs/org_acme/refused", method: .get, headers: bearer(support)) { try json($0) }
                #expect(((refusals["refusals"] as? [[String: Any]]) ?? []).map { $0["reason"] as? String } == ["stale-timestamp"])
                let conflicts = try await http.execute(uri: "/admin/orgs/org_acme/conflicts", method: .get, headers: bearer(support)) { try json($0) }
                #expect(((conflicts["conflicts"] as? [[String: Any]]) ?? []).map { $0["inbox_id"] as? String } == [ids[2]])

                // Another org sees none of it.
                let other = tokens.issue(subject: "x", org: "org_globex", role: .owner)
                let foreign = try await http.execute(uri: "/admin/orgs/org_globex/inbox", method: .get, headers: bearer(other)) { try json($0) }
                #expect((foreign["entries"] as? [Any])?.isEmpty == true)

                // The replay is in the outbox with its marker, and audited.
                let replayed = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { superuser in
                    try await superuser.strings("SELECT convert_from(payload, 'UTF8') FROM \(unescaped: schema.name).outbox WHERE event_id LIKE \(replayID + "-%")")
                }
                #expect(replayed.count == 1)
                #expect(replayed.first?.contains(#""replay_id":"\#(replayID)""#) == true)
                let actions = try await client.withTenantTransaction(TenantID(rawValue: "org_acme")!, logger: TestDatabase.logger) { connection in
                    var actions: [String] = []
                    for try await action in try await connection.query("SELECT action FROM \(unescaped: schema.name).audit_log ORDER BY id", logger: TestDatabase.logger).decode(
                        String.self)
                    { actions.append(action) }
                    return actions
                }
                #expect(actions == ["source.create", "inbox.replay", "inbox.replay.completed"])
            }
        }
    }

    @Test func aSourceOverItsRateIsToldWhenToRetry() async throws {
        let limiter = RateLimiter(ratePerSecond: 1, burst: 2)
        let start = ContinuousClock.now
        #expect(limiter.acquire("src_a", now: start) == nil)
        #expect(limiter.acquire("src_a", now: start) == nil)
        #expect(limiter.acquire("src_a", now: start) == 1, "third request within the same second waits")
        #expect(limiter.acquire("src_b", now: start) == nil, "limits are per source")
        #expect(limiter.acquire("src_a", now: start + .seconds(1)) == nil, "a token refills after a second")

        try await withRouter { _, client, schema in
            let sources = SourceStore(
                client: client, schema: schema.name, box: SecretBox(key: SymmetricKey(size: .bits256)), audit: AuditLog(schema: schema), logger: TestDatabase.logger)
            let (source, secret) = try await sources.create(org: TenantID(rawValue: "org_acme")!, provider: .stripe, name: "s", toleranceSeconds: 300, secret: nil, actor: "t")
            let router = Router(context: ServiceRequestContext.self)
            router.add(middleware: ProblemMiddleware())
            WebhookRoutes(
                sources: sources, inbox: WebhookInboxStore(client: client, schema: schema, logger: TestDatabase.logger), maxBodySize: 1 << 20,
                logger: TestDatabase.logger, rateLimiter: RateLimiter(ratePerSecond: 0.5, burst: 1)
            ).add(to: router)
            let body = try WebhookIntakeTests.fixture("stripe/payment_intent.succeeded.json")
            try await Application(router: router).test(.router) { http in
                let headers: HTTPFields = [
                    .contentType: "application/json", HTTPField.Name("Stripe-Signature")!: StripeSignatureVerifier.sign(body: body, secret: secret, at: Date()),
                ]
                let first = try await http.execute(uri: "/webhooks/\(source.id)", method: .post, headers: headers, body: ByteBuffer(bytes: body)) { $0.status }
                #expect(first == .ok)
                try await http.execute(uri: "/webhooks/\(source.id)", method: .post, headers: headers, body: ByteBuffer(bytes: body)) { response in
                    #expect(response.status == .tooManyRequests)
                    #expect(response.headers[.retryAfter] == "2")
                    #expect(String(buffer: response.body).contains("webhook/rate-limited"))
                }
            }
        }
    }
}
