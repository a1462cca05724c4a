import NIOCore
import NIOSSL
import ServiceRuntime

/// Ends a conversation early with the attempt's result.
struct SMTPStop: Error {
    let result: AttemptResult
}

/// The attempt results of the SMTP channel for one relay: what each reply and failure means for
/// the retry schedule (the table is in `SMTPClient`'s documentation).
struct SMTPAttemptResults: Sendable {
    let provider: String
    let redactor: SMTPDetailRedactor

    /// 250 after the message: delivered.
    func delivered(_ reply: SMTPReply) -> AttemptResult {
        AttemptResult(outcome: .delivered, provider: provider, replyCode: String(reply.code), detail: redactor.detail(reply.firstLine))
    }

    /// A reply that is not the one the step needs.
    func refused(_ reply: SMTPReply, at step: SMTPStep) -> AttemptResult {
        let code = String(reply.code)
        if reply.isTransientFailure {
            return AttemptResult(outcome: .transient, provider: provider, replyCode: code, reason: "smtp_4xx", detail: redactor.detail(reply.firstLine))
        }
        if reply.isPermanentFailure {
            return AttemptResult(outcome: .permanent, provider: provider, replyCode: code, reason: "smtp_5xx", detail: redactor.detail(reply.firstLine))
        }
        return AttemptResult(
            outcome: .transient, provider: provider, replyCode: code, reason: "protocol_error",
            detail: redactor.detail("unexpected reply at \(step.rawValue): \(reply.firstLine)"))
    }

    func failed(_ failure: SMTPConversationFailure) -> AttemptResult {
        switch failure {
        case .timedOut(let step):
            return AttemptResult(outcome: .transient, provider: provider, reason: "timeout", detail: "timed out at \(step.rawValue)")
        case .connectionRefused(let why):
            return AttemptResult(outcome: .transient, provider: provider, reason: "connection_refused", detail: redactor.detail("connect: \(why)"))
        case .connectionDropped(let step):
            return AttemptResult(outcome: .transient, provider: provider, reason: "connection_dropped", detail: "the connection closed at \(step.rawValue)")
        case .tlsFailed(let why):
            return AttemptResult(outcome: .transient, provider: provider, reason: "tls_failed", detail: redactor.detail(why))
        case .protocolViolation(let step, let why):
            return AttemptResult(outcome: .transient, provider: provider, reason: "protocol_error", detail: redactor.detail("\(step.rawValue): \(why)"))
        }
    }

    /// A result this client decides itself, before or instead of asking the server.
    func decided(_ outcome: AttemptOutcome, reason: String, detail: String) -> AttemptResult {
        AttemptResult(outcome: outcome, provider: provider, reason: reason, detail: detail)
    }
}

/// The SMTP conversation for one message over one open connection (RFC 5321 §3.3, RFC 3207,
/// RFC 4954, RFC 1870): greeting, EHLO (HELO on a 5xx), STARTTLS and EHLO again, AUTH, the SIZE
/// check, MAIL FROM, RCPT TO, DATA and the dot-stuffed message.
struct SMTPTransaction: Sendable {
    let connection: SMTPConnection
    let relay: SMTPRelay
    let results: SMTPAttemptResults

    /// The attempt's result; never throws.
    func run(message: EmailMessage, content: [UInt8]) async -> AttemptResult {
        do throws(SMTPStop) {
            return try await converse(message: message, content: content)
        } catch {
            return error.result
        }
    }

    /// Says QUIT when the conversation is still in step; waits at most 5 seconds for the answer.
    func quit() async {
        _ = try? await connection.exchange(.quit, ByteBuffer(string: "QUIT\r\n"), timeout: min(relay.timeouts.command, .seconds(5)))
    }

    private func converse(message: EmailMessage, content: [UInt8]) async throws(SMTPStop) -> AttemptResult {
        let greeting = try await readGreeting()
        try expect(greeting, class: 2, at: .greeting)
        var extensions = try await hello()

        var secured = false
        switch relay.tls {
        case .none:
            break
        case .startTLSIfOffered where !extensions.startTLS:
            break
        case .requireStartTLS where !extensions.startTLS:
            throw SMTPStop(result: results.decided(.permanent, reason: "starttls_unavailable", detail: "the relay did not offer STARTTLS"))
        case .startTLSIfOffered, .requireStartTLS:
            try await startTLS()
            secured = true
            extensions = try await hello()
        }

        if let username = relay.username, let password = relay.password {
            try await authenticate(username: username, password: password, mechanisms: extensions.authMechanisms, secured: secured)
        }

        if let limit = extensions.maximumMessageSize, content.count > limit {
            throw SMTPStop(
                result: results.decided(
                    .permanent, reason: "message_too_large", detail: "the message is \(content.count) bytes; the relay takes at most \(limit)"))
        }
        let size = extensions.size ? " SIZE=\(content.count)" : ""
        let mailFrom = try await command(.mailFrom, "MAIL FROM:<\(message.from.mailbox.rawValue)>\(size)")
        try expect(mailFrom, class: 2, at: .mailFrom)
        let rcptTo = try await command(.rcptTo, "RCPT TO:<\(message.to.mailbox.rawValue)>")
        try expect(rcptTo, class: 2, at: .rcptTo)
        let data = try await command(.data, "DATA")
        try expect(data, class: 3, at: .data)
        let payload = ByteBuffer(bytes: SMTPDataPayload.encode(content))
        let accepted = try await send(.dataEnd, payload, timeout: relay.timeouts.dataEnd)
        try expect(accepted, class: 2, at: .dataEnd)
        return results.delivered(accepted)
    }

    /// EHLO, or HELO when the server refuses EHLO with a 5xx (RFC 5321 §3.2).
    private func hello() async throws(SMTPStop) -> SMTPExtensions {
        let ehlo = try await command(.ehlo, "EHLO \(relay.heloName)")
        if ehlo.isPositive { return SMTPExtensions(ehloReply: ehlo) }
        guard ehlo.isPermanentFailure else { throw SMTPStop(result: results.refused(ehlo, at: .ehlo)) }
        let helo = try await command(.helo, "HELO \(relay.heloName)")
        try expect(helo, class: 2, at: .helo)
        return .noneAdvertised
    }

    /// STARTTLS; returns once the handshake has finished and the certificate was verified.
    private func startTLS() async throws(SMTPStop) {
        let context: NIOSSLContext
        do {
            context = try relay.makeTLSContext()
        } catch {
            throw SMTPStop(result: results.decided(.transient, reason: "tls_failed", detail: results.redactor.detail("TLS settings: \(error)")))
        }
        let upgrade = SMTPTLSUpgrade(context: context, serverHostname: relay.tlsServerHostname, handshakeTimeout: TimeAmount(relay.timeouts.command))
        let accepted = try await command(.startTLS, "STARTTLS", tlsUpgrade: upgrade)
        try expect(accepted, class: 2, at: .startTLS)
    }

    /// AUTH PLAIN when offered, else AUTH LOGIN; only over TLS or to a loopback relay.
    private func authenticate(username: String, password: RedactedSecret, mechanisms: Set<String>, secured: Bool) async throws(SMTPStop) {
        guard secured || relay.isLoopback else {
            throw SMTPStop(
                result: results.decided(.permanent, reason: "auth_requires_tls", detail: "credentials are only sent over TLS; the connection is not encrypted"))
        }
        if mechanisms.contains("PLAIN") {
            let done = try await command(.auth, "AUTH PLAIN " + SMTPAuthBlob.plain(username: username, password: password.value))
            try expect(done, class: 2, at: .auth)
        } else if mechanisms.contains("LOGIN") {
            let usernamePrompt = try await command(.auth, "AUTH LOGIN")
            try expect(usernamePrompt, class: 3, at: .auth)
            let passwordPrompt = try await command(.auth, SMTPAuthBlob.login(username))
            try expect(passwordPrompt, class: 3, at: .auth)
            let done = try await command(.auth, SMTPAuthBlob.login(password.value))
            try expect(done, class: 2, at: .auth)
        } else {
            throw SMTPStop(result: results.decided(.permanent, reason: "auth_unavailable", detail: "the relay offers neither AUTH PLAIN nor AUTH LOGIN"))
        }
    }

    // MARK: Exchanges

    private func command(_ step: SMTPStep, _ line: String, tlsUpgrade: SMTPTLSUpgrade? = nil) async throws(SMTPStop) -> SMTPReply {
        try await send(step, ByteBuffer(string: line + "\r\n"), timeout: relay.timeouts.command, tlsUpgrade: tlsUpgrade)
    }

    /// The reply to `bytes`, or a stop with the failure's result.
    private func send(_ step: SMTPStep, _ bytes: ByteBuffer, timeout: Duration, tlsUpgrade: SMTPTLSUpgrade? = nil) async throws(SMTPStop) -> SMTPReply {
        do throws(SMTPConversationFailure) {
            return try await connection.exchange(step, bytes, timeout: timeout, tlsUpgrade: tlsUpgrade)
        } catch {
            throw SMTPStop(result: results.failed(error))
        }
    }

    /// The server's greeting, or a stop with the failure's result.
    private func readGreeting() async throws(SMTPStop) -> SMTPReply {
        do throws(SMTPConversationFailure) {
            return try await connection.readGreeting()
        } catch {
            throw SMTPStop(result: results.failed(error))
        }
    }

    /// Returns when `reply`'s first digit is `expected`; otherwise stops with what the reply means.
    private func expect(_ reply: SMTPReply, class expected: Int, at step: SMTPStep) throws(SMTPStop) {
        guard reply.code / 100 != expected else { return }
        throw SMTPStop(result: results.refused(reply, at: step))
    }
}
