import NIOCore
import NIOPosix

/// The email channel's sender, written on SwiftNIO: one message, one relay, one attempt.
///
/// Guarantees of `send(_:via:)`:
/// - it never throws, and returns within the relay's timeouts (connect, greeting, each command
///   and the TLS handshake, the end of DATA; a cancelled task closes the connection at once):
///   every outside failure becomes an `AttemptResult`, provider `smtp:{relay.name}`;
/// - the connection is always closed, after a QUIT when the conversation is still in step;
/// - `detail` is the server's first reply line, or the step that failed, at most 200
///   characters; it never holds an email address, the password or an AUTH blob;
/// - credentials are only sent over TLS or to a loopback relay; STARTTLS verifies the
///   certificate and host name, then reads the extensions again (nothing learnt in the clear is
///   kept), and a server that sends more after accepting STARTTLS is refused;
/// - a message larger than the relay's advertised `SIZE` is refused before `MAIL FROM`.
///
/// | What happened                                   | outcome      | reason                 |
/// |-------------------------------------------------|--------------|------------------------|
/// | 250 after the message                           | `delivered`  | (replyCode `250`)      |
/// | a 4xx at any step (421, 451, 452, 454, ...)     | `transient`  | `smtp_4xx`             |
/// | a 5xx at any step (after HELO fallback on EHLO) | `permanent`  | `smtp_5xx`             |
/// | a step got no answer in time                    | `transient`  | `timeout`              |
/// | no TCP connection could be made                 | `transient`  | `connection_refused`   |
/// | the connection closed or broke mid-conversation | `transient`  | `connection_dropped`   |
/// | TLS settings or the handshake failed            | `transient`  | `tls_failed`           |
/// | a reply SMTP does not allow at that point       | `transient`  | `protocol_error`       |
/// | `.requireStartTLS` and STARTTLS not offered     | `permanent`  | `starttls_unavailable` |
/// | credentials set, connection not encrypted       | `permanent`  | `auth_requires_tls`    |
/// | credentials set, no AUTH PLAIN/LOGIN offered    | `permanent`  | `auth_unavailable`     |
/// | bigger than the relay's SIZE                    | `permanent`  | `message_too_large`    |
/// | the relay settings are unusable                 | `transient`  | `relay_misconfigured`  |
///
/// Settings problems are `transient` on purpose: they are fixed by an operator, not by the
/// message, and a failover relay or a later retry can still deliver it.
struct SMTPClient: Sendable {
    let eventLoopGroup: any EventLoopGroup

    init(eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.eventLoopGroup = eventLoopGroup
    }

    func send(_ message: EmailMessage, via relay: SMTPRelay) async -> AttemptResult {
        let results = SMTPAttemptResults(provider: relay.provider, redactor: SMTPDetailRedactor(username: relay.username, password: relay.password))
        if let problem = relay.misconfiguration {
            return results.decided(.transient, reason: "relay_misconfigured", detail: problem)
        }
        let content = MIMEMessage.render(message)

        let connection: SMTPConnection
        do throws(SMTPConversationFailure) {
            connection = try await SMTPConnection.open(to: relay, on: eventLoopGroup)
        } catch {
            return results.failed(error)
        }

        let transaction = SMTPTransaction(connection: connection, relay: relay, results: results)
        let result = await withTaskCancellationHandler {
            await transaction.run(message: message, content: content)
        } onCancel: {
            connection.channel.close(promise: nil)
        }
        await transaction.quit()
        await connection.close()
        return result
    }
}
