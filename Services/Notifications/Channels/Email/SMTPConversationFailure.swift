/// A step of the SMTP conversation: what a timeout or a dropped connection is reported against.
enum SMTPStep: String, Sendable, Equatable {
    case connect
    case greeting
    case ehlo
    case helo
    case startTLS = "starttls"
    case tlsHandshake = "tls_handshake"
    case auth
    case mailFrom = "mail_from"
    case rcptTo = "rcpt_to"
    case data
    case dataEnd = "data_end"
    case quit
}

/// Why a conversation with a relay ended without a reply to read. Each case maps to one
/// `transient` attempt result (see `SMTPClient`); the strings never hold a message, an address
/// or a credential.
enum SMTPConversationFailure: Error, Sendable, Equatable {
    /// Nothing answered within the step's timeout (the connection is then closed).
    case timedOut(SMTPStep)
    /// The TCP connection could not be made (refused, unreachable, the name did not resolve).
    case connectionRefused(String)
    /// The connection closed or broke while the step waited.
    case connectionDropped(SMTPStep)
    /// The TLS handshake after STARTTLS failed (certificate, host name, protocol).
    case tlsFailed(String)
    /// The server sent something that is not the reply SMTP expects here.
    case protocolViolation(SMTPStep, String)
}
