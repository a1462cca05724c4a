import Foundation
import NIOCore
import NIOSSL
import ServiceRuntime

/// One SMTP relay the email channel can send through, as configured by the operator.
///
/// Its description names the relay, host, port and TLS mode, never the password.
struct SMTPRelay: Sendable, Equatable, CustomStringConvertible {
    /// Whether and how the connection is upgraded to TLS with STARTTLS (RFC 3207).
    enum TLSMode: String, Sendable, Equatable, CaseIterable {
        /// Plain SMTP; STARTTLS is never attempted.
        case none
        /// STARTTLS when the server offers it, plain otherwise (opportunistic).
        case startTLSIfOffered = "starttls_if_offered"
        /// STARTTLS or nothing: a server that does not offer it gets no message
        /// (`permanent`, `starttls_unavailable`).
        case requireStartTLS = "require_starttls"
    }

    /// How long each step may take before the attempt ends as `transient` / `timeout`.
    struct Timeouts: Sendable, Equatable {
        /// TCP connect (all addresses of the host together).
        var connect: Duration = .seconds(10)
        /// The server's `220` greeting after connecting.
        var greeting: Duration = .seconds(30)
        /// Each command's reply, and the TLS handshake.
        var command: Duration = .seconds(30)
        /// The reply after the message's final `.`: servers scan the message here (RFC 5321
        /// suggests up to 10 minutes; the default is 2).
        var dataEnd: Duration = .seconds(120)

        init(connect: Duration = .seconds(10), greeting: Duration = .seconds(30), command: Duration = .seconds(30), dataEnd: Duration = .seconds(120)) {
            self.connect = connect
            self.greeting = greeting
            self.command = command
            self.dataEnd = dataEnd
        }
    }

    /// Names the relay in `AttemptResult.provider` (`smtp:{name}`), e.g. `primary`, `fallback`.
    var name: String
    var host: String
    var port: Int
    var tls: TLSMode
    /// AUTH is used when both username and password are set. Credentials are only sent over
    /// TLS, or to a loopback relay (as Go's `net/smtp` does): otherwise the attempt ends
    /// `permanent` / `auth_requires_tls` before anything secret leaves the process.
    var username: String?
    var password: RedactedSecret?
    /// The name this client gives in EHLO/HELO: a host name or an address literal.
    var heloName: String
    /// A PEM file of CA certificates to trust instead of the system's (tests use a self-signed
    /// certificate); nil trusts the system trust store.
    var trustRootsPEMFile: String?
    var timeouts: Timeouts

    init(
        name: String, host: String, port: Int = 587, tls: TLSMode = .requireStartTLS, username: String? = nil, password: RedactedSecret? = nil,
        heloName: String, trustRootsPEMFile: String? = nil, timeouts: Timeouts = Timeouts()
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.username = username
        self.password = password
        self.heloName = heloName
        self.trustRootsPEMFile = trustRootsPEMFile
        self.timeouts = timeouts
    }

    var description: String {
        "SMTPRelay(\(name), \(host):\(port), tls: \(tls.rawValue), auth: \(username == nil ? "none" : "set"))"
    }

    /// `AttemptResult.provider` for attempts through this relay.
    var provider: String { "smtp:\(name)" }

    /// Why these settings cannot be used, or nil. Checked before connecting: a HELO name with
    /// spaces or line breaks would otherwise break the protocol, and half-set credentials are a
    /// mistake worth naming.
    var misconfiguration: String? {
        if heloName.isEmpty || !heloName.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) {
            return "the HELO name must be a host name or an address literal"
        }
        if !(1...65_535).contains(port) { return "the port must be 1-65535" }
        if (username == nil) != (password == nil) { return "set both username and password, or neither" }
        return nil
    }

    /// Whether `host` is this machine: `localhost`, `127.0.0.0/8` or `::1`.
    var isLoopback: Bool {
        let name = host.lowercased()
        if name == "localhost" || name == "::1" || name == "[::1]" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy({ UInt8($0) != nil }) && octets[0] == "127"
    }

    /// The name to send in SNI and check the certificate against: the host, or nil for an IP
    /// literal (NIOSSL then checks the certificate's IP addresses against the peer's address).
    var tlsServerHostname: String? {
        (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }

    /// A client TLS context: TLS 1.2 or later, full certificate and host name verification,
    /// against `trustRootsPEMFile` or the system trust store.
    func makeTLSContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let trustRootsPEMFile { configuration.trustRoots = .file(trustRootsPEMFile) }
        return try NIOSSLContext(configuration: configuration)
    }
}
