import AsyncHTTPClient
import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization
import TallyTestSupport
import Testing

@testable import Finance

/// The Stripe refund client against a real HTTP server on 127.0.0.1 that stands in for Stripe:
/// what goes over the wire, how each answer is read, the deadline, and that the secret key never
/// leaves the `Authorization` header. Needs no PostgreSQL and no broker.
@Suite("Stripe refund client")
struct StripeRefundClientTests {
    static let secret = "sk_test_51TallyNeverLeakThisSecretKey0123456789abcdef"
    static let euro = CurrencyCode(rawValue: "EUR")!
    /// Spaces, form delimiters, brackets, a plus, percent, slashes and non-ASCII text.
    static let trickyReason = "Charged twice & wrong = 100% + 5€ [again]; café ☕️ 😀 a+b /?#"

    static func request(
        reason: String = "duplicate charge", amountMinor: Int64 = 1250, provider: WebhookProvider = .stripe
    ) -> ProviderRefundRequest {
        ProviderRefundRequest(
            refundID: "rfr_01JTALLYREFUND", provider: provider, paymentID: "pi_3NtallyPayment",
            amount: Money(amountMinor: amountMinor, currency: euro), reason: reason, requestID: "req-7f3a")
    }

    /// Runs `body` with a Stripe stand-in answering `answer` and a client pointed at it; both are
    /// stopped afterwards.
    static func withStripe<T>(
        answering answer: StubStripe.Answer, timeout: Duration = .seconds(5), logger: Logger = Logger(label: "finance-tests"),
        _ body: (StripeRefundClient, StubStripe) async throws -> T
    ) async throws -> T {
        try await StubStripe.run(answering: answer) { stub, baseURL in
            try await HTTPClient.withHTTPClient { http in
                let client = StripeRefundClient(baseURL: baseURL, secretKey: secret, httpClient: http, timeout: timeout, logger: logger)
                return try await body(client, stub)
            }
        }
    }

    /// The failure `submit` throws; nil, recording an issue, when it returns instead.
    static func failure(submitting request: ProviderRefundRequest, to client: some ProviderRefundClient) async -> RefundSubmissionFailure? {
        do throws(RefundSubmissionFailure) {
            let result = try await client.submit(request)
            Issue.record("expected a RefundSubmissionFailure, got \(result)")
            return nil
        } catch {
            return error
        }
    }

    // MARK: What is sent

    @Test func sendsTheRefundAsAnIdempotentFormAndReadsTheRefundID() async throws {
        let request = Self.request(reason: Self.trickyReason)
        let answer = #"{"id":"re_3NtallyRefund","object":"refund","status":"pending","amount":1250,"currency":"eur"}"#
        let (result, received) = try await Self.withStripe(answering: .json(status: 200, body: answer)) { client, stub in
            (try await client.submit(request), stub.received)
        }
        #expect(result == .submitted(providerRefundID: "re_3NtallyRefund"))
        #expect(received.count == 1)
        let sent = try #require(received.first)
        #expect(sent.method == "POST")
        #expect(sent.path == "/v1/refunds")
        #expect(sent.headers["authorization"] == "Bearer \(Self.secret)")
        #expect(sent.headers["idempotency-key"] == request.refundID)
        #expect(sent.headers["content-type"] == "application/x-www-form-urlencoded")
        #expect(sent.headers["stripe-version"] == nil)

        #expect(sent.formNames == ["payment_intent", "amount", "metadata[tally_refund_id]", "metadata[reason]"])
        #expect(
            sent.form == [
                "payment_intent": "pi_3NtallyPayment", "amount": "1250", "metadata[tally_refund_id]": "rfr_01JTALLYREFUND",
                "metadata[reason]": Self.trickyReason,
            ])
        // Brackets in the names and every delimiter in the reason travel percent-encoded.
        for raw in ["[", "]", " ", "€", "+", "#", "?"] {
            #expect(!sent.body.contains(raw), "the body holds a raw \(raw): \(sent.body)")
        }
        #expect(sent.body.contains("metadata%5Breason%5D="))
    }

    @Test func formEncodingLeavesOnlyUnreservedCharactersAsTheyAre() {
        #expect(FormURLEncoding.escape("aZ09-._~") == "aZ09-._~")
        #expect(FormURLEncoding.escape("a b&c=d[e]+f%é") == "a%20b%26c%3Dd%5Be%5D%2Bf%25%C3%A9")
        #expect(FormURLEncoding.encode([(name: "metadata[x]", value: "1 2")]) == "metadata%5Bx%5D=1%202")
    }

    // MARK: How answers are read

    @Test(arguments: [
        (#"{"id":"re_1","object":"refund","status":"succeeded"}"#, ProviderRefundResult.submitted(providerRefundID: "re_1")),
        (#"{"id":"re_2","status":"requires_action"}"#, .submitted(providerRefundID: "re_2")),
        (#"{"id":"re_3","status":"failed","failure_reason":"expired_or_canceled_card"}"#, .refused(reason: "expired_or_canceled_card")),
        (#"{"id":"re_4","status":"canceled","failure_reason":null}"#, .refused(reason: "canceled")),
    ])
    func theRefundStatusDecidesTheResult(answer: String, expected: ProviderRefundResult) async throws {
        let result = try await Self.withStripe(answering: .json(status: 200, body: answer)) { client, _ in
            try await client.submit(Self.request())
        }
        #expect(result == expected)
    }

    @Test(arguments: [
        (
            402, #"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card was declined."}}"#,
            "card_declined: Your card was declined."
        ),
        (
            400, #"{"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"Charge ch_1 has already been refunded."}}"#,
            "charge_already_refunded: Charge ch_1 has already been refunded."
        ),
        (404, #"{"error":{"type":"invalid_request_error","message":"No such payment_intent: 'pi_x'"}}"#, "invalid_request_error: No such payment_intent: 'pi_x'"),
        (400, "<html>bad request</html>", "http_400: the answer was not Stripe's error JSON"),
    ])
    func clientErrorsAreRefusalsNamingStripesCode(status: Int, answer: String, reason: String) async throws {
        let result = try await Self.withStripe(answering: .json(status: status, body: answer)) { client, _ in
            try await client.submit(Self.request())
        }
        #expect(result == .refused(reason: reason))
    }

    /// 409 (the same idempotency key still in flight), 429 and 5xx are worth retrying: they throw.
    @Test(arguments: [409, 429, 500, 502, 503])
    func retryableAnswersThrow(status: Int) async throws {
        let answer = #"{"error":{"type":"api_error","code":"lock_timeout","message":"Try again later."}}"#
        let failure = try await Self.withStripe(answering: .json(status: status, body: answer)) { client, _ in
            await Self.failure(submitting: Self.request(), to: client)
        }
        #expect(failure?.description.contains("HTTP \(status)") == true)
    }

    /// A 2xx that is not a refund object may still have refunded: it throws, and the retry with the
    /// same idempotency key reads Stripe's stored answer.
    @Test func anUnreadableSuccessThrows() async throws {
        let failure = try await Self.withStripe(answering: .json(status: 200, body: "<html>ok</html>")) { client, _ in
            await Self.failure(submitting: Self.request(), to: client)
        }
        #expect(failure != nil)
    }

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        let (failure, elapsed) = try await Self.withStripe(answering: .silence(.seconds(4)), timeout: .seconds(1)) { client, _ in
            let started = ContinuousClock.now
            let failure = await Self.failure(submitting: Self.request(), to: client)
            return (failure, ContinuousClock.now - started)
        }
        #expect(failure?.description.contains("did not answer") == true, "\(String(describing: failure))")
        #expect(elapsed < .seconds(3.5), "took \(elapsed)")
    }

    @Test func anUnreachableServerThrows() async throws {
        let failure = try await HTTPClient.withHTTPClient { http in
            // Port 1 on loopback: nothing listens there.
            let client = StripeRefundClient(baseURL: "http://127.0.0.1:1", secretKey: Self.secret, httpClient: http, timeout: .seconds(5))
            return await Self.failure(submitting: Self.request(), to: client)
        }
        #expect(failure != nil)
        #expect(failure?.description.contains(Self.secret) == false)
    }

    /// Requests Stripe could never take are refused before anything is sent.
    @Test(arguments: [
        (WebhookProvider.paddle, Int64(1250)),
        (.stripe, 0),
        (.stripe, -1250),
    ])
    func requestsStripeCannotTakeAreRefusedWithoutSending(provider: WebhookProvider, amountMinor: Int64) async throws {
        let answer = #"{"id":"re_never","status":"succeeded"}"#
        let (result, received) = try await Self.withStripe(answering: .json(status: 200, body: answer)) { client, stub in
            (try await client.submit(Self.request(amountMinor: amountMinor, provider: provider)), stub.received)
        }
        guard case .refused = result else {
            Issue.record("expected a refusal, got \(result)")
            return
        }
        #expect(received.isEmpty)
    }

    // MARK: The secret key

    /// Stripe stand-ins that quote the `Authorization` header back, a refused connection and a
    /// timeout: no result, failure, log line or description holds the key.
    @Test func theSecretKeyNeverLeaks() async throws {
        let logs = LogCapture()
        let refusal = try await Self.withStripe(answering: .echoingAuthorization(status: 401), logger: logs.logger) { client, _ in
            try await client.submit(Self.request())
        }
        guard case .refused(let reason) = refusal else {
            Issue.record("expected a refusal, got \(refusal)")
            return
        }
        #expect(reason.contains("api_key_invalid"))
        #expect(reason.contains("[redacted]"))

        let echoed = try await Self.withStripe(answering: .echoingAuthorization(status: 500), logger: logs.logger) { client, _ in
            await Self.failure(submitting: Self.request(), to: client)
        }
        let timedOut = try await Self.withStripe(answering: .silence(.seconds(3)), timeout: .seconds(1), logger: logs.logger) { client, _ in
            await Self.failure(submitting: Self.request(), to: client)
        }
        var failures = [echoed, timedOut]
        let descriptions = try await HTTPClient.withHTTPClient { http in
            let client = StripeRefundClient(
                baseURL: "http://127.0.0.1:1", secretKey: Self.secret, httpClient: http, timeout: .seconds(5), logger: logs.logger)
            failures.append(await Self.failure(submitting: Self.request(), to: client))
            let clients = ProviderRefundClients(stripe: client)
            return [
                String(describing: client), String(reflecting: client), String(describing: clients), String(reflecting: clients),
            ]
        }
        #expect(failures.count == 3)
        for failure in failures {
            #expect(failure != nil)
            #expect(failure?.description.contains(Self.secret) == false, "\(String(describing: failure))")
            #expect(String(reflecting: failure).contains(Self.secret) == false)
        }
        for description in descriptions {
            #expect(!description.contains(Self.secret), "\(description)")
        }

        let settings = RefundClientSettings(stripeSecretKey: Self.secret)
        var dumped = ""
        dump(settings, to: &dumped)
        for text in [String(describing: settings), String(reflecting: settings), dumped, String(describing: FinanceSettings(refunds: settings))] {
            #expect(!text.contains(Self.secret), "\(text)")
        }

        let lines = logs.lines
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(!line.text.contains(Self.secret), "\(line.text)")
        }
    }

    // MARK: The offline client and the choice of client

    @Test func theOfflineClientRecordsAndLogsWithoutTheReason() async throws {
        let logs = LogCapture()
        let request = Self.request(reason: "Maria Silva, card ending 4242, asked twice")
        let client: any ProviderRefundClient = OfflineRefundClient(logger: logs.logger)
        #expect(try await client.submit(request) == .offline)

        let lines = logs.lines
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.level == .notice)
        #expect(line.message.contains("MOCK_REFUND"))
        #expect(
            line.metadata == [
                "refund_id": request.refundID, "request_id": request.requestID, "provider": "stripe", "payment_id": request.paymentID,
                "amount_minor": "1250", "currency": "EUR",
            ])
        #expect(!line.text.contains("Maria"))
    }

    @Test func stripeGetsTheLiveClientOnlyWithAKeyAndEveryOtherProviderTheOfflineOne() async throws {
        try await HTTPClient.withHTTPClient { http in
            let logger = Logger(label: "finance-tests")
            let live = ProviderRefundClients(settings: RefundClientSettings(stripeSecretKey: Self.secret), httpClient: http, logger: logger)
            #expect(live.client(for: .stripe) is StripeRefundClient)
            let offline = ProviderRefundClients(settings: RefundClientSettings(stripeSecretKey: ""), httpClient: http, logger: logger)
            #expect(offline.client(for: .stripe) is OfflineRefundClient)
            for provider in WebhookProvider.allCases where provider != .stripe {
                #expect(live.client(for: provider) is OfflineRefundClient, "\(provider)")
                let result = try await live.client(for: provider).submit(Self.request(provider: provider))
                #expect(result == .offline)
            }
        }
    }
}

extension StripeRefundClientTests {
    /// A stand-in for Stripe's API: a Hummingbird server on 127.0.0.1 and a free port whose
    /// `POST /v1/refunds` records each request and answers as scripted.
    final class StubStripe: Sendable {
        enum Answer: Sendable {
            case json(status: Int, body: String)
            /// Stripe's error JSON whose message quotes the request's `Authorization` header.
            case echoingAuthorization(status: Int)
            /// Answers only after the delay (or never, when the server stops first).
            case silence(Duration)
        }

        /// One request as it arrived.
        struct Received: Sendable {
            var method: String
            var path: String
            /// By lowercased name.
            var headers: [String: String]
            var body: String

            /// The form fields, decoded the way any form decoder reads them.
            var form: [String: String] {
                var fields: [String: String] = [:]
                for pair in body.split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    fields[Self.decode(parts[0])] = parts.count > 1 ? Self.decode(parts[1]) : ""
                }
                return fields
            }

            /// The decoded field names, in the order sent.
            var formNames: [String] {
                body.split(separator: "&").map { pair in Self.decode(pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]) }
            }

            static func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "<not percent-encoded UTF-8: \(text)>"
            }
        }

        struct Failure: Error, CustomStringConvertible {
            var description: String
        }

        let answer: Answer
        private let log = Mutex<[Received]>([])

        init(answer: Answer) {
            self.answer = answer
        }

        /// Every request received so far, in order.
        var received: [Received] { log.withLock { $0 } }

        func respond(to request: Request) async throws -> Response {
            let buffer = try await request.body.collect(upTo: 1 << 16)
            var headers: [String: String] = [:]
            for field in request.headers {
                headers[field.name.canonicalName] = field.value
            }
            let received = Received(
                method: request.method.rawValue, path: request.uri.path, headers: headers, body: String(decoding: buffer.readableBytesView, as: UTF8.self))
            log.withLock { $0.append(received) }
            switch answer {
            case .json(let status, let body):
                return Self.json(status: status, body)
            case .echoingAuthorization(let status):
                let quoted = headers["authorization"] ?? "none"
                return Self.json(
                    status: status, #"{"error":{"type":"invalid_request_error","code":"api_key_invalid","message":"Invalid API Key provided: \#(quoted)"}}"#)
            case .silence(let delay):
                try await Task.sleep(for: delay)
                return Self.json(status: 200, #"{"id":"re_late","status":"pending"}"#)
            }
        }

        static func json(status: Int, _ body: String) -> Response {
            Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }

        /// Runs `body` with a stand-in answering `answer` and its base URL (`http://127.0.0.1:<port>`),
        /// then stops the server.
        static func run<T>(answering answer: Answer, _ body: (StubStripe, String) async throws -> T) async throws -> T {
            let stub = StubStripe(answer: answer)
            let router = Router()
            router.post("/v1/refunds") { request, _ in try await stub.respond(to: request) }
            let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
            let app = Application(
                router: router,
                configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "stub-stripe"),
                onServerRunning: { channel in
                    portContinuation.yield(channel.localAddress?.port ?? 0)
                    portContinuation.finish()
                },
                logger: Logger(label: "stub-stripe")
            )
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.run() }
                // Cancelling the server's task stops it, and any answer it is still holding back.
                defer { group.cancelAll() }
                var bound = ports.makeAsyncIterator()
                guard let port = await bound.next(), port > 0 else { throw Failure(description: "the Stripe stand-in did not start") }
                return try await body(stub, "http://127.0.0.1:\(port)")
            }
        }
    }
}
