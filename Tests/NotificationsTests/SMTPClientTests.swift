import Foundation
import NIOCore
import NIOPosix
import ServiceRuntime
import Testing

@testable import Notifications

/// The SwiftNIO SMTP client against a real SMTP server: `ops/e2e/support/smtp_sink.py`
/// (aiosmtpd) started per test on a free port of 127.0.0.1, normal or misbehaving on purpose.
/// Checks what arrives in the server's Maildir and how each failure is reported to the retry
/// schedule. Needs python3 with aiosmtpd and openssl (`make bootstrap`); no PostgreSQL, no broker.
@Suite("SMTP client against aiosmtpd")
struct SMTPClientTests {
    static let client = SMTPClient()
    static let recipient = "ana.souza@example.com"

    static func relay(
        port: Int, host: String = "127.0.0.1", tls: SMTPRelay.TLSMode = .none, username: String? = nil, password: String? = nil, trust: String? = nil,
        greetingTimeout: Duration = .seconds(15)
    ) -> SMTPRelay {
        SMTPRelay(
            name: "primary", host: host, port: port, tls: tls, username: username, password: password.map(RedactedSecret.init), heloName: "tally.test",
            trustRootsPEMFile: trust,
            timeouts: SMTPRelay.Timeouts(connect: .seconds(10), greeting: greetingTimeout, command: .seconds(15), dataEnd: .seconds(30)))
    }

    static func message(
        id: String = UUID().uuidString.lowercased(), subject: String = "Sua fatura está disponível ✅",
        text: String = "Olá Ana,\nsua fatura de R$ 12,50 está pronta.\n",
        html: String = "<p>Olá Ana,</p>\n<p>sua fatura de <b>R$ 12,50</b> está pronta.</p>\n"
    ) throws -> EmailMessage {
        guard let from = EmailMailbox("billing@tally.example"), let to = EmailMailbox(recipient) else {
            throw SMTPSink.StartFailure(description: "test mailboxes are invalid")
        }
        return try EmailMessage(
            deliveryID: id, from: EmailAddress(from, displayName: "Tally Billing"), to: EmailAddress(to, displayName: "Ana Souza"), subject: subject,
            textBody: text, htmlBody: html, date: Date())
    }

    /// Every result keeps what the attempt log may keep: no address, no credential.
    static func expectClean(_ result: AttemptResult, secrets: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.provider == "smtp:primary", sourceLocation: sourceLocation)
        let said = (result.detail ?? "") + " " + (result.reason ?? "")
        #expect(!said.contains("@"), "an address in \(said)", sourceLocation: sourceLocation)
        for secret in secrets {
            #expect(!said.contains(secret), "a secret in \(said)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Delivered

    @Test func aPlainMessageArrivesWithItsMessageIDSubjectAndBothParts() async throws {
        try await SMTPSink.with { sink in
            let message = try Self.message()
            let result = await Self.client.send(message, via: Self.relay(port: sink.port))
            #expect(result.outcome == .delivered, "\(result)")
            #expect(result.replyCode == "250")
            Self.expectClean(result)

            let received = try sink.receivedMessages()
            try #require(received.count == 1, "\(sink.output)")
            let mail = ReadMail(received[0])
            #expect(mail.header("Message-ID") == message.messageID)
            #expect(mail.header("X-Tally-Delivery") == message.deliveryID)
            let subject = try #require(mail.header("Subject"))
            #expect(MailDecoding.encodedWords(subject) == message.subject)
            let (parts, closed) = mail.parts()
            #expect(closed)
            try #require(parts.count == 2)
            #expect(parts[0].header("Content-Type") == "text/plain; charset=utf-8")
            #expect(parts[0].decodedText == message.textBody.replacingOccurrences(of: "\n", with: "\r\n"))
            #expect(parts[1].header("Content-Type") == "text/html; charset=utf-8")
            #expect(parts[1].decodedText == message.htmlBody.replacingOccurrences(of: "\n", with: "\r\n"))

            let log = try sink.logEntries()
            #expect(log.map(\.messageID) == [message.messageID])
            #expect(log.first?.to == [Self.recipient])
            #expect(log.first?.subject == message.subject)
            #expect(log.first?.tls == false)
        }
    }

    @Test func dotStuffedLinesArriveIntact() async throws {
        try await SMTPSink.with { sink in
            let message = try Self.message(text: ".\n..\n.leading dot\nplain\n.", html: ".<p>a paragraph after a dot</p>\n..\n")
            let result = await Self.client.send(message, via: Self.relay(port: sink.port))
            #expect(result.outcome == .delivered, "\(result)")
            let received = try sink.receivedMessages()
            try #require(received.count == 1)
            // The server undid the stuffing: it holds exactly the bytes that were rendered.
            #expect(received[0] == MIMEMessage.render(message))
            let parts = ReadMail(received[0]).parts().parts
            try #require(parts.count == 2)
            #expect(parts[0].decodedText == ".\r\n..\r\n.leading dot\r\nplain\r\n.")
        }
    }

    // MARK: Retried

    @Test(arguments: ["451", "421"])
    func aTemporaryFailureFirstIsTransientAndTheNextSendSucceeds(code: String) async throws {
        try await SMTPSink.with(["--mode", "flaky", "--fail-first", "1", "--fail-code", code]) { sink in
            let message = try Self.message()
            let first = await Self.client.send(message, via: Self.relay(port: sink.port))
            #expect(first.outcome == .transient, "\(first)")
            #expect(first.replyCode == code)
            #expect(first.reason == "smtp_4xx")
            #expect(first.detail?.hasPrefix(code) == true, "\(first)")
            Self.expectClean(first)
            #expect(try sink.receivedMessages().isEmpty)

            let second = await Self.client.send(message, via: Self.relay(port: sink.port))
            #expect(second.outcome == .delivered, "\(second)")
            #expect(try sink.logEntries().map(\.messageID) == [message.messageID])
        }
    }

    @Test func aConnectionDroppedMidConversationIsTransient() async throws {
        try await SMTPSink.with(["--mode", "drop", "--fail-first", "1"]) { sink in
            let message = try Self.message()
            let first = await Self.client.send(message, via: Self.relay(port: sink.port))
            #expect(first.outcome == .transient, "\(first)")
            #expect(first.reason == "connection_dropped")
            #expect(first.detail?.contains("rcpt_to") == true, "\(first)")
            #expect(first.replyCode == nil)
            Self.expectClean(first)

            let second = await Self.client.send(message, via: Self.relay(port: sink.port))
            #expect(second.outcome == .delivered, "\(second)")
            #expect(try sink.receivedMessages().count == 1)
        }
    }

    @Test func nothingListeningIsTransient() async throws {
        // A port that was free a moment ago: bound, then closed.
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(probe.localAddress?.port)
        try await probe.close().get()

        let result = await Self.client.send(try Self.message(), via: Self.relay(port: port))
        #expect(result.outcome == .transient, "\(result)")
        #expect(result.reason == "connection_refused")
        Self.expectClean(result)
    }

    @Test func aServerThatNeverAnswersTimesOutAtTheGreeting() async throws {
        try await SMTPSink.with(["--mode", "silent"]) { sink in
            let clock = ContinuousClock()
            let started = clock.now
            let result = await Self.client.send(try Self.message(), via: Self.relay(port: sink.port, greetingTimeout: .seconds(1)))
            let elapsed = clock.now - started
            #expect(result.outcome == .transient, "\(result)")
            #expect(result.reason == "timeout")
            #expect(result.detail?.contains("greeting") == true, "\(result)")
            #expect(elapsed >= .milliseconds(900), "gave up after \(elapsed)")
            #expect(elapsed < .seconds(10), "took \(elapsed) for a 1 s greeting timeout")
        }
    }

    // MARK: Refused

    @Test func aRejectedRecipientIsPermanentAndTheDetailHidesTheAddress() async throws {
        try await SMTPSink.with(["--mode", "reject-rcpt"]) { sink in
            let result = await Self.client.send(try Self.message(), via: Self.relay(port: sink.port))
            #expect(result.outcome == .permanent, "\(result)")
            #expect(result.reason == "smtp_5xx")
            #expect(result.replyCode == "550")
            Self.expectClean(result)
            #expect(try sink.receivedMessages().isEmpty)
        }
    }

    @Test func aMessageOverTheAdvertisedSizeIsRefusedBeforeMailFrom() async throws {
        try await SMTPSink.with(["--size-limit", "1000"]) { sink in
            let result = await Self.client.send(try Self.message(text: String(repeating: "long text ", count: 300)), via: Self.relay(port: sink.port))
            #expect(result.outcome == .permanent, "\(result)")
            #expect(result.reason == "message_too_large")
            #expect(result.replyCode == nil, "the server was never asked")
            #expect(try sink.receivedMessages().isEmpty)

            let small = await Self.client.send(try Self.message(subject: "s", text: "t", html: "h"), via: Self.relay(port: sink.port))
            #expect(small.outcome == .delivered, "\(small)")
        }
    }

    // MARK: AUTH

    @Test func authPlainLogsIn() async throws {
        try await SMTPSink.with(["--auth", "mailer:s3cret-Pa55"]) { sink in
            let result = await Self.client.send(try Self.message(), via: Self.relay(port: sink.port, username: "mailer", password: "s3cret-Pa55"))
            #expect(result.outcome == .delivered, "\(result)")
            #expect(try sink.logEntries().first?.authenticated == true)
        }
    }

    @Test func aWrongPasswordIsPermanentAndNeverRepeated() async throws {
        try await SMTPSink.with(["--auth", "mailer:s3cret-Pa55"]) { sink in
            let password = "wrong-Pa55-word"
            let result = await Self.client.send(try Self.message(), via: Self.relay(port: sink.port, username: "mailer", password: password))
            #expect(result.outcome == .permanent, "\(result)")
            #expect(result.replyCode == "535")
            Self.expectClean(result, secrets: [password, SMTPAuthBlob.plain(username: "mailer", password: password)])
        }
    }

    @Test func withoutCredentialsAServerThatRequiresAuthRefuses() async throws {
        try await SMTPSink.with(["--auth", "mailer:s3cret-Pa55"]) { sink in
            let result = await Self.client.send(try Self.message(), via: Self.relay(port: sink.port))
            #expect(result.outcome == .permanent, "\(result)")
            #expect(result.replyCode == "530")
            #expect(try sink.receivedMessages().isEmpty)
        }
    }

    // MARK: STARTTLS

    @Test(arguments: ["127.0.0.1", "localhost"])
    func startTLSWithATrustedSelfSignedCertificate(host: String) async throws {
        let certificates = FileManager.default.temporaryDirectory.appendingPathComponent("tally-smtp-tls-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: certificates) }
        let files = try TestCertificate.make(in: certificates)
        try await SMTPSink.with(["--tls-cert", files.certificate, "--tls-key", files.key, "--require-starttls", "--auth", "mailer:s3cret-Pa55"]) { sink in
            let relay = Self.relay(port: sink.port, host: host, tls: .requireStartTLS, username: "mailer", password: "s3cret-Pa55", trust: files.certificate)
            let result = await Self.client.send(try Self.message(), via: relay)
            #expect(result.outcome == .delivered, "\(result) \(sink.output.suffix(800))")
            let log = try sink.logEntries()
            #expect(log.first?.tls == true)
            #expect(log.first?.authenticated == true)
        }
    }

    @Test func anUntrustedCertificateFailsTLS() async throws {
        let certificates = FileManager.default.temporaryDirectory.appendingPathComponent("tally-smtp-tls-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: certificates) }
        let files = try TestCertificate.make(in: certificates)
        try await SMTPSink.with(["--tls-cert", files.certificate, "--tls-key", files.key, "--require-starttls"]) { sink in
            // The system trust store does not know the test's certificate.
            let result = await Self.client.send(try Self.message(), via: Self.relay(port: sink.port, tls: .startTLSIfOffered))
            #expect(result.outcome == .transient, "\(result)")
            #expect(result.reason == "tls_failed")
            Self.expectClean(result)
            #expect(try sink.receivedMessages().isEmpty)
        }
    }

    @Test func requiredStartTLSThatIsNotOfferedIsPermanentAndOpportunisticFallsBackToPlain() async throws {
        try await SMTPSink.with { sink in
            let required = await Self.client.send(try Self.message(), via: Self.relay(port: sink.port, tls: .requireStartTLS))
            #expect(required.outcome == .permanent, "\(required)")
            #expect(required.reason == "starttls_unavailable")
            #expect(try sink.receivedMessages().isEmpty)

            let opportunistic = await Self.client.send(try Self.message(), via: Self.relay(port: sink.port, tls: .startTLSIfOffered))
            #expect(opportunistic.outcome == .delivered, "\(opportunistic)")
            #expect(try sink.logEntries().first?.tls == false)
        }
    }
}
