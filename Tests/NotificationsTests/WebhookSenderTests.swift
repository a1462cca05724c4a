import Crypto
import Foundation
import Logging
import ServiceRuntime
import TallyTestSupport
import Testing

@testable import Notifications

/// The webhook sender against a real HTTP server on 127.0.0.1 standing in for a tenant's endpoint
/// (plain http, which only `allowLoopbackHTTP` permits): what is sent and how it is signed, how
/// each answer is read, redirects, the deadline, and that the secret and body never leak.
@Suite("Webhook sender")
struct WebhookSenderTests {
    static let secret = StandardWebhookSignature.newSecret()
    static let deliveryID = "dlv_01JTALLYWEBHOOK0000000001"
    static let body = Array(#"{"type":"invoice.payment_failed","data":{"invoice_id":"in_123","amount":"R$ 10,00","note":"café ☕️ a+b/?#"}}"#.utf8)

    static func sender(
        timeout: Duration = .seconds(5), resolver: any HostResolving = SystemHostResolver(), logger: Logger = Logger(label: "webhook-tests")
    )
        -> WebhookSender
    {
        WebhookSender(settings: WebhookSenderSettings(timeout: timeout, allowLoopbackHTTP: true), hostResolver: resolver, logger: logger)
    }

    static func message(_ url: String, secret: String = secret) -> WebhookMessage {
        WebhookMessage(deliveryID: deliveryID, endpointURL: url, secret: RedactedSecret(secret), body: body)
    }

    /// The signature a Standard Webhooks receiver expects, computed here from the spec, not with
    /// the sender's code.
    static func expectedSignature(secret: String, id: String, timestamp: String, body: [UInt8]) throws -> String {
        let key = try #require(Data(base64Encoded: String(secret.dropFirst("whsec_".count))))
        let content = Data("\(id).\(timestamp).".utf8) + Data(body)
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }

    // MARK: What is sent

    @Test func postsTheBodySignedTheStandardWebhooksWay() async throws {
        let (result, received) = try await HTTPChannelStub.run(paths: ["/hooks/tally"], answering: { _ in .status(204) }) { stub, port in
            (await Self.sender().send(Self.message("http://127.0.0.1:\(port)/hooks/tally?source=tally")), stub.received)
        }
        #expect(result == AttemptResult(outcome: .delivered, provider: "webhook", replyCode: "204"))
        #expect(received.count == 1)
        let sent = try #require(received.first)
        #expect(sent.method == "POST")
        #expect(sent.path == "/hooks/tally")
        #expect(sent.body == Self.body)
        #expect(sent.headers["webhook-id"] == Self.deliveryID)
        #expect(sent.headers["content-type"] == "application/json")
        #expect(sent.headers["user-agent"] == "Tally-Notifications/1")

        let timestamp = try #require(sent.headers["webhook-timestamp"])
        let seconds = try #require(Int64(timestamp))
        #expect(abs(Double(seconds) - sent.arrivedAt.timeIntervalSince1970) < 10)

        let signature = try #require(sent.headers["webhook-signature"])
        #expect(signature == (try Self.expectedSignature(secret: Self.secret, id: Self.deliveryID, timestamp: timestamp, body: Self.body)))
    }

    /// The `standardwebhooks` SDK (installed by `make bootstrap`) verifies what the endpoint got.
    @Test(.enabled(if: StandardWebhooksSDK.available || ProcessInfo.processInfo.environment["TALLY_REQUIRE_INTEGRATION"] == "1"))
    func theStandardWebhooksSDKVerifiesTheDelivery() async throws {
        let received = try await HTTPChannelStub.run(paths: ["/hook"], answering: { _ in .status(200) }) { stub, port in
            _ = await Self.sender().send(Self.message("http://127.0.0.1:\(port)/hook"))
            return stub.received
        }
        let sent = try #require(received.first)
        #expect(try StandardWebhooksSDK.verifies(secret: Self.secret, headers: sent.headers, body: sent.body))
        // And refuses it under another secret.
        #expect(try !StandardWebhooksSDK.verifies(secret: StandardWebhookSignature.newSecret(), headers: sent.headers, body: sent.body))
    }

    /// The host is resolved once, checked, and the connection goes to the checked address: here a
    /// table that maps `localhost` to 127.0.0.1 only, so the stub (bound to 127.0.0.1) is reached
    /// whatever the system resolver says about `localhost`.
    @Test func connectsToTheCheckedAddress() async throws {
        let resolver = StaticHostResolver(["localhost": [.ipv4(127, 0, 0, 1)]])
        let (result, received) = try await HTTPChannelStub.run(paths: ["/hook"], answering: { _ in .status(200) }) { stub, port in
            (await Self.sender(resolver: resolver).send(Self.message("http://localhost:\(port)/hook")), stub.received)
        }
        #expect(result.outcome == .delivered)
        #expect(received.count == 1)
        #expect(received.first?.authority?.hasPrefix("localhost") == true, "the Host header keeps the name")
    }

    // MARK: How answers are read

    @Test func goneDisablesTheEndpoint() async throws {
        let result = try await HTTPChannelStub.run(paths: ["/hook"], answering: { _ in .status(410) }) { _, port in
            await Self.sender().send(Self.message("http://127.0.0.1:\(port)/hook"))
        }
        #expect(result == AttemptResult(outcome: .endpointGone, provider: "webhook", replyCode: "410", reason: "http_410"))
    }

    @Test func busyHonoursRetryAfter() async throws {
        let result = try await HTTPChannelStub.run(paths: ["/hook"], answering: { _ in .status(503, headers: ["Retry-After": "7"]) }) { _, port in
            await Self.sender().send(Self.message("http://127.0.0.1:\(port)/hook"))
        }
        #expect(result.outcome == .transient)
        #expect(result.reason == "http_503")
        #expect(result.replyCode == "503")
        #expect(result.retryAfter == .seconds(7))
    }

    @Test func aRedirectIsRefusedAndNotFollowed() async throws {
        let (result, received) = try await HTTPChannelStub.run(
            paths: ["/hook", "/elsewhere"],
            answering: { request in request.path == "/hook" ? .status(302, headers: ["Location": "/elsewhere"]) : .status(200) }
        ) { stub, port in
            (await Self.sender().send(Self.message("http://127.0.0.1:\(port)/hook")), stub.received)
        }
        #expect(result == AttemptResult(outcome: .permanent, provider: "webhook", replyCode: "302", reason: "redirect_refused"))
        #expect(received.map(\.path) == ["/hook"])
    }

    @Test func aSlowEndpointTimesOut() async throws {
        let (result, elapsed) = try await HTTPChannelStub.run(paths: ["/hook"], answering: { _ in .status(200, after: .seconds(4)) }) { _, port in
            let started = ContinuousClock.now
            let result = await Self.sender(timeout: .seconds(1)).send(Self.message("http://127.0.0.1:\(port)/hook"))
            return (result, ContinuousClock.now - started)
        }
        #expect(result == AttemptResult(outcome: .transient, provider: "webhook", reason: "timeout"))
        #expect(elapsed < .seconds(3), "took \(elapsed)")
    }

    @Test func nothingListeningIsAConnectionFailure() async {
        // Port 1 on loopback: nothing listens there, so the refusal is immediate. The deadline is
        // generous because parallel suites can starve the event loop on a 2-core CI machine; a
        // refusal read as a timeout would still fail here.
        let result = await Self.sender(timeout: .seconds(60)).send(Self.message("http://127.0.0.1:1/hook"))
        #expect(result.outcome == .transient)
        #expect(result.reason == "connection_failed")
    }

    /// Every status class, read without a server.
    @Test(arguments: [
        (200, AttemptOutcome.delivered, nil as String?), (202, .delivered, nil), (299, .delivered, nil),
        (410, .endpointGone, "http_410"),
        (429, .transient, "http_429"), (503, .transient, "http_503"), (408, .transient, "http_408"), (500, .transient, "http_500"),
        (502, .transient, "http_502"), (504, .transient, "http_504"),
        (301, .permanent, "redirect_refused"), (307, .permanent, "redirect_refused"), (308, .permanent, "redirect_refused"),
        (400, .permanent, "http_400"), (401, .permanent, "http_401"), (404, .permanent, "http_404"), (413, .permanent, "http_413"),
    ])
    func statusesMapToOutcomes(status: Int, outcome: AttemptOutcome, reason: String?) {
        let result = WebhookSender.interpret(.answered(.init(status: status)), now: Date(), maxRetryAfter: .seconds(86_400))
        #expect(result.outcome == outcome)
        #expect(result.reason == reason)
        #expect(result.replyCode == String(status))
        #expect(result.provider == "webhook")
    }

    @Test func retryAfterIsReadAsSecondsOrADateAndCapped() {
        let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        func read(_ value: String, status: Int = 429) -> Duration? {
            WebhookSender.interpret(.answered(.init(status: status, retryAfter: value)), now: now, maxRetryAfter: .seconds(3_600)).retryAfter
        }
        #expect(read("120") == .seconds(120))
        #expect(read("0") == .zero)
        #expect(read("999999999999999999999999") == .seconds(3_600))
        #expect(read("Sun, 06 Nov 1994 08:50:37 GMT") == .seconds(60))
        #expect(read("Sunday, 06-Nov-94 08:51:37 GMT") == .seconds(120))
        #expect(read("Sun Nov  6 08:49:47 1994") == .seconds(10))
        #expect(read("Sat, 05 Nov 1994 08:49:37 GMT") == .zero)
        #expect(read("Mon, 07 Nov 1994 08:49:37 GMT") == .seconds(3_600))
        #expect(read("soon") == nil)
        #expect(read("-5") == nil)
        #expect(read("7", status: 503) == .seconds(7))
        #expect(read("7", status: 500) == nil)
    }

    // MARK: Refusals before anything is sent

    @Test(arguments: [
        ("https://169.254.169.254/latest/meta-data/", "address_refused:metadata"),
        ("https://10.0.0.5/hook", "address_refused:private"),
        ("https://[fe80::1]/hook", "address_refused:link_local"),
        ("https://[::ffff:100.64.0.9]/hook", "address_refused:cgnat"),
        ("https://internal.example.com/hook", "address_refused:private"),
        ("https://user:pw@hooks.example.com/hook", "url_refused:userinfo"),
        ("http://hooks.example.com/hook", "url_refused:https_required"),
    ])
    func refusedEndpointsArePermanentAndNeverCalled(url: String, reason: String) async {
        let resolver = StaticHostResolver(["internal.example.com": [.ipv4(93, 184, 216, 34), .ipv4(10, 1, 2, 3)]])
        let result = await Self.sender(resolver: resolver).send(Self.message(url))
        #expect(result == AttemptResult(outcome: .permanent, provider: "webhook", reason: reason))
    }

    @Test func aNameThatDoesNotResolveIsTransient() async {
        let result = await Self.sender(resolver: StaticHostResolver([:])).send(Self.message("https://nowhere.example.com/hook"))
        #expect(result.outcome == .transient)
        #expect(result.reason == "dns_failed")
    }

    @Test func anUnusableSecretSendsNothing() async throws {
        let (result, received) = try await HTTPChannelStub.run(paths: ["/hook"], answering: { _ in .status(200) }) { stub, port in
            (await Self.sender().send(Self.message("http://127.0.0.1:\(port)/hook", secret: "whsec_not base64!")), stub.received)
        }
        #expect(result == AttemptResult(outcome: .permanent, provider: "webhook", reason: "secret_invalid"))
        #expect(received.isEmpty)
    }

    // MARK: Secrets

    @Test func newSecretsAreStandardWebhooksSecretsOfTwentyFourRandomBytes() throws {
        let first = StandardWebhookSignature.newSecret()
        let second = StandardWebhookSignature.newSecret()
        #expect(first != second)
        #expect(first.hasPrefix("whsec_"))
        let key = try #require(Data(base64Encoded: String(first.dropFirst(6))))
        #expect(key.count == 24)
        #expect(WebhookSigningKey(secret: first) != nil)
    }

    /// The test vector of the Standard Webhooks specification's reference libraries.
    @Test func signingMatchesTheReferenceVector() {
        let signature = StandardWebhookSignature.sign(
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
            body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(StandardWebhookSignature.sign(secret: "whsec_", id: "x", timestamp: 1, body: []) == nil)
        #expect(StandardWebhookSignature.sign(secret: "whsec_c2hvcnQ=", id: "x", timestamp: 1, body: []) == nil)
    }

    @Test func theSecretAndTheBodyNeverLeak() async throws {
        let logs = LogCapture()
        let message = Self.message("http://127.0.0.1:1/hook")
        var results: [AttemptResult] = []
        results.append(
            try await HTTPChannelStub.run(paths: ["/hook"], answering: { _ in .status(500, body: "boom") }) { _, port in
                await Self.sender(logger: logs.logger).send(Self.message("http://127.0.0.1:\(port)/hook"))
            })
        results.append(await Self.sender(logger: logs.logger).send(message))
        results.append(await Self.sender(logger: logs.logger).send(Self.message("https://10.0.0.1/hook")))
        let bodyText = String(decoding: Self.body, as: UTF8.self)
        var texts = results.map { String(reflecting: $0) } + [String(describing: message), String(reflecting: message)]
        var dumped = ""
        dump(message, to: &dumped)
        texts.append(dumped)
        texts += logs.lines.map(\.text)
        #expect(logs.lines.count == 3)
        for text in texts {
            #expect(!text.contains(Self.secret.dropFirst(6)), "\(text)")
            #expect(!text.contains(bodyText), "\(text)")
            #expect(!text.contains("in_123"), "\(text)")
            #expect(!text.contains("/hook"), "\(text)")
        }
    }
}

/// Runs the `standardwebhooks` Python SDK, for the test that checks the signature with it.
enum StandardWebhooksSDK {
    static let script = """
        import json, sys
        from standardwebhooks.webhooks import Webhook
        try:
            Webhook(sys.argv[1]).verify(sys.stdin.buffer.read(), json.loads(sys.argv[2]))
        except Exception as error:
            print(error, file=sys.stderr)
            sys.exit(3)
        """

    static var available: Bool {
        (try? run(["-c", "import standardwebhooks"], input: [])) == 0
    }

    static func verifies(secret: String, headers: [String: String], body: [UInt8]) throws -> Bool {
        let headerJSON = String(decoding: try JSONSerialization.data(withJSONObject: headers), as: UTF8.self)
        return try run(["-c", script, secret, headerJSON], input: body) == 0
    }

    /// The exit status of Python with `arguments` and `input` on standard input.
    static func run(_ arguments: [String], input: [UInt8]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [ProcessInfo.processInfo.environment["TALLY_PYTHON"] ?? "python3"] + arguments
        let stdin = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        stdin.fileHandleForWriting.write(Data(input))
        try stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
