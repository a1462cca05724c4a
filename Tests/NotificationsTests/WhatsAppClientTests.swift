import AsyncHTTPClient
import Foundation
import Logging
import ServiceRuntime
import TallyTestSupport
import Testing

@testable import Notifications

/// The WhatsApp Cloud API client against a real HTTP server on 127.0.0.1 standing in for Meta's
/// Graph API: the exact request for text and template messages, how answers are read, offline
/// mode, and that neither the token nor the number leaks.
@Suite("WhatsApp client")
struct WhatsAppClientTests {
    static let token = "EAAGtallyNeverLeakThisAccessToken0123456789"
    static let phoneNumberID = "106540352242922"
    static let number = "+5511987654321"
    static let path = "/v21.0/\(phoneNumberID)/messages"
    static let accepted =
        #"{"messaging_product":"whatsapp","contacts":[{"input":"5511987654321","wa_id":"5511987654321"}],"messages":[{"id":"wamid.HBgLNTUxMTk4NzY1NDMyMRUCABEYEjQ1"}]}"#

    /// Runs `body` with a Meta stand-in answering `answer` and a live client pointed at it.
    static func withMeta<T>(
        answering answer: HTTPChannelStub.Answer, timeout: Duration = .seconds(5), logger: Logger = Logger(label: "whatsapp-tests"),
        _ body: (WhatsAppClient, HTTPChannelStub) async throws -> T
    ) async throws -> T {
        try await HTTPChannelStub.run(paths: [path], answering: { _ in answer }) { stub, port in
            try await HTTPClient.withHTTPClient { http in
                let settings = WhatsAppSettings(baseURL: "http://127.0.0.1:\(port)/", phoneNumberID: phoneNumberID, token: token, timeout: timeout)
                return try await body(WhatsAppClient(settings: settings, httpClient: http, logger: logger), stub)
            }
        }
    }

    // MARK: What is sent

    @Test func sendsATextMessageAsTheCloudAPIExpects() async throws {
        let message = WhatsAppMessage(to: Self.number, content: .text("Olá Maria, sua fatura \"in_123\" venceu: https://pay.example/in_123"))
        let (result, received) = try await Self.withMeta(answering: .json(200, Self.accepted)) { client, stub in
            (await client.send(message, deliveryID: "dlv_1"), stub.received)
        }
        #expect(result == AttemptResult(outcome: .delivered, provider: "whatsapp:cloud", replyCode: "200", detail: "wamid.HBgLNTUxMTk4NzY1NDMyMRUCABEYEjQ1"))
        #expect(received.count == 1)
        let sent = try #require(received.first)
        #expect(sent.method == "POST")
        #expect(sent.path == Self.path)
        #expect(sent.headers["authorization"] == "Bearer \(Self.token)")
        #expect(sent.headers["content-type"] == "application/json")
        #expect(
            sent.bodyText
                == #"{"messaging_product":"whatsapp","recipient_type":"individual","text":{"body":"Olá Maria, sua fatura \"in_123\" venceu: https://pay.example/in_123","preview_url":false},"to":"5511987654321","type":"text"}"#
        )
    }

    @Test func sendsATemplateMessageWithItsBodyParameters() async throws {
        let message = WhatsAppMessage(to: Self.number, content: .template(name: "dunning_payment_failed", language: "pt_BR", parameters: ["Maria", "R$ 10,00"]))
        let (result, received) = try await Self.withMeta(answering: .json(200, Self.accepted)) { client, stub in
            (await client.send(message, deliveryID: "dlv_2"), stub.received)
        }
        #expect(result.outcome == .delivered)
        let sent = try #require(received.first)
        #expect(sent.headers["authorization"] == "Bearer \(Self.token)")
        #expect(
            sent.bodyText
                == #"{"messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"text":"Maria","type":"text"},{"text":"R$ 10,00","type":"text"}],"type":"body"}],"language":{"code":"pt_BR"},"name":"dunning_payment_failed"},"to":"5511987654321","type":"template"}"#
        )
    }

    @Test func aTemplateWithoutVariablesHasNoComponents() throws {
        let body = try #require(WhatsAppClient.body(for: .template(name: "hello_world", language: "en_US", parameters: []), to: "15551234567"))
        #expect(
            String(decoding: body, as: UTF8.self)
                == #"{"messaging_product":"whatsapp","recipient_type":"individual","template":{"language":{"code":"en_US"},"name":"hello_world"},"to":"15551234567","type":"template"}"#
        )
    }

    // MARK: The number

    @Test(arguments: ["5511987654321", "+0511987654321", "+55 11 98765-4321", "+1234567", "+1234567890123456", "+55119876543a1", "", "+", "++5511987654321"])
    func numbersThatAreNotE164AreRefusedWithoutARequest(number: String) async throws {
        let (result, received) = try await Self.withMeta(answering: .json(200, Self.accepted)) { client, stub in
            (await client.send(WhatsAppMessage(to: number, content: .text("hi")), deliveryID: "dlv_3"), stub.received)
        }
        #expect(result == AttemptResult(outcome: .permanent, provider: "whatsapp:cloud", reason: "invalid_phone"))
        #expect(received.isEmpty)
    }

    @Test(arguments: [("+12345678", "12345678"), ("+5511987654321", "5511987654321"), ("+123456789012345", "123456789012345")])
    func e164NumbersAreSentAsTheirDigits(number: String, digits: String) {
        #expect(E164.digits(of: number) == digits)
    }

    // MARK: How answers are read

    @Test(arguments: [
        (
            400, #"{"error":{"message":"(#131030) Recipient phone number not in allowed list","type":"OAuthException","code":131030,"fbtrace_id":"AbC123"}}"#,
            AttemptOutcome.permanent, "meta_error_code=131030 fbtrace_id=AbC123" as String?
        ),
        (
            401, #"{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"error_subcode":463}}"#,
            .permanent, "meta_error_code=190 subcode=463"
        ),
        (400, #"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429}}"#, .transient, "meta_error_code=130429"),
        (400, #"{"error":{"message":"(#131056) pair rate limit hit","code":"131056"}}"#, .transient, "meta_error_code=131056"),
        (429, #"{"error":{"message":"Too many calls","code":80007}}"#, .transient, "meta_error_code=80007"),
        (500, #"{"error":{"message":"(#131000) Something went wrong","code":131000}}"#, .transient, "meta_error_code=131000"),
        (503, "<html>unavailable</html>", .transient, nil),
        (404, "not json", .permanent, nil),
    ])
    func errorsAreReadByStatusAndMetasCode(status: Int, body: String, outcome: AttemptOutcome, detail: String?) async throws {
        let result = try await Self.withMeta(answering: .json(status, body)) { client, _ in
            await client.send(WhatsAppMessage(to: Self.number, content: .text("hi")), deliveryID: "dlv_4")
        }
        #expect(result.outcome == outcome)
        #expect(result.replyCode == String(status))
        #expect(result.reason == "http_\(status)")
        #expect(result.detail == detail)
        #expect(result.provider == "whatsapp:cloud")
    }

    @Test func anAcceptedMessageWithoutAnIDStillCountsAsDelivered() async throws {
        let result = try await Self.withMeta(answering: .json(200, "{}")) { client, _ in
            await client.send(WhatsAppMessage(to: Self.number, content: .text("hi")), deliveryID: "dlv_5")
        }
        #expect(result == AttemptResult(outcome: .delivered, provider: "whatsapp:cloud", replyCode: "200", reason: "message_id_missing"))
    }

    @Test func aSlowAPITimesOut() async throws {
        let (result, elapsed) = try await Self.withMeta(answering: .status(200, body: Self.accepted, after: .seconds(4)), timeout: .seconds(1)) { client, _ in
            let started = ContinuousClock.now
            let result = await client.send(WhatsAppMessage(to: Self.number, content: .text("hi")), deliveryID: "dlv_6")
            return (result, ContinuousClock.now - started)
        }
        #expect(result == AttemptResult(outcome: .transient, provider: "whatsapp:cloud", reason: "timeout"))
        #expect(elapsed < .seconds(3), "took \(elapsed)")
    }

    // MARK: Offline mode

    @Test func withoutATokenMessagesAreStoredNotSentAndTheLogSaysMock() async throws {
        let logs = LogCapture()
        let result = try await HTTPClient.withHTTPClient { http in
            // Nothing listens on port 1: a request would fail, not be delivered offline.
            let client = WhatsAppClient(
                settings: WhatsAppSettings(baseURL: "http://127.0.0.1:1", phoneNumberID: Self.phoneNumberID, token: nil), httpClient: http,
                logger: logs.logger)
            return await client.send(
                WhatsAppMessage(to: Self.number, content: .template(name: "invoice_link", language: "pt_BR", parameters: ["Maria"])), deliveryID: "dlv_7")
        }
        #expect(result == AttemptResult(outcome: .deliveredOffline, provider: "whatsapp:offline"))
        let lines = logs.lines
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.metadata["mode"] == "mock")
        #expect(line.metadata["delivery_id"] == "dlv_7")
        #expect(line.metadata["template"] == "invoice_link")
        #expect(line.text.contains("mode=mock"))
        #expect(!line.text.contains("987654321"))
        #expect(!line.text.contains("Maria"))
    }

    @Test func offlineModeStillRefusesABadNumber() async throws {
        let result = try await HTTPClient.withHTTPClient { http in
            await WhatsAppClient(settings: WhatsAppSettings(token: ""), httpClient: http).send(
                WhatsAppMessage(to: "011987654321", content: .text("hi")), deliveryID: "dlv_8")
        }
        #expect(result == AttemptResult(outcome: .permanent, provider: "whatsapp:offline", reason: "invalid_phone"))
    }

    // MARK: Settings and secrets

    @Test func settingsComeFromTheEnvironmentAndWAOfflineWins() throws {
        let live = try WhatsAppSettings(
            environment: EnvironmentReader([
                "TALLY_WHATSAPP_TOKEN": Self.token, "TALLY_WHATSAPP_PHONE_NUMBER_ID": Self.phoneNumberID, "TALLY_WHATSAPP_API_VERSION": "v22.0",
                "TALLY_WHATSAPP_TIMEOUT_SECONDS": "9",
            ]), deployment: .local)
        #expect(live.isLive)
        #expect(live.baseURL == "https://graph.facebook.com")
        #expect(live.apiVersion == "v22.0")
        #expect(live.timeout == .seconds(9))

        let offline = try WhatsAppSettings(
            environment: EnvironmentReader(["TALLY_WHATSAPP_TOKEN": Self.token, "TALLY_WHATSAPP_PHONE_NUMBER_ID": Self.phoneNumberID, "WA_OFFLINE": "1"]),
            deployment: .local)
        #expect(!offline.isLive)
        let unset = try WhatsAppSettings(environment: EnvironmentReader([:]), deployment: .local)
        #expect(!unset.isLive)

        #expect(throws: ConfigurationError.self) {
            try WhatsAppSettings(environment: EnvironmentReader(["TALLY_WHATSAPP_TOKEN": Self.token]), deployment: .local)
        }
        #expect(throws: ConfigurationError.self) {
            try WhatsAppSettings(environment: EnvironmentReader(["TALLY_WHATSAPP_API_BASE_URL": "http://127.0.0.1:9"]), deployment: .prod)
        }
        #expect(throws: ConfigurationError.self) {
            try WhatsAppSettings(environment: EnvironmentReader(["TALLY_WHATSAPP_API_VERSION": "21"]), deployment: .local)
        }
    }

    @Test func theTokenNeverLeaks() async throws {
        let logs = LogCapture()
        let echo = #"{"error":{"message":"Invalid OAuth access token - Bearer \#(Self.token)","type":"OAuthException","code":190}}"#
        let refused = try await Self.withMeta(answering: .json(401, echo), logger: logs.logger) { client, _ in
            await client.send(WhatsAppMessage(to: Self.number, content: .text("hi")), deliveryID: "dlv_9")
        }
        let descriptions = try await HTTPClient.withHTTPClient { http in
            let settings = WhatsAppSettings(baseURL: "http://127.0.0.1:1", phoneNumberID: Self.phoneNumberID, token: Self.token)
            let client = WhatsAppClient(settings: settings, httpClient: http, logger: logs.logger)
            var dumped = ""
            dump(client, to: &dumped)
            return [String(describing: settings), String(reflecting: settings), String(describing: client), String(reflecting: client), dumped]
        }
        for text in descriptions + [String(reflecting: refused)] + logs.lines.map(\.text) {
            #expect(!text.contains(Self.token), "\(text)")
        }
        #expect(!logs.lines.isEmpty)
        for line in logs.lines {
            #expect(!line.text.contains("987654321"), "\(line.text)")
        }
    }
}
