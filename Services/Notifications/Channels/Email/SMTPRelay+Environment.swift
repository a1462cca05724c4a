import Foundation
import ServiceRuntime

extension SMTPRelay {
    /// The relay configured under `prefix` (`TALLY_SMTP_` for the primary, `TALLY_SMTP_FALLBACK_`
    /// for the fallback), or nil when `{prefix}HOST` is not set:
    ///
    /// - `HOST`, `PORT` (587), `TLS` (`require_starttls`; `starttls_if_offered` or `none`, the
    ///   latter two refused when `TALLY_ENV=prod`), `USERNAME` and `PASSWORD` (both or neither),
    ///   `CA_FILE` (a PEM bundle to trust instead of the system's);
    /// - `CONNECT_TIMEOUT_SECONDS` (10), `COMMAND_TIMEOUT_SECONDS` (30): per step.
    init?(environment: EnvironmentReader, prefix: String, name: String, heloName: String, deployment: DeploymentEnvironment) throws(ConfigurationError) {
        guard let host = environment.optional(prefix + "HOST"), !host.isEmpty else { return nil }
        guard host.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
            throw .invalid(variable: prefix + "HOST", reason: "expected a host name or an IP address")
        }
        let port = try environment.integer(prefix + "PORT", default: 587, range: 1...65_535)
        let tlsText = try environment.string(prefix + "TLS", default: TLSMode.requireStartTLS.rawValue)
        guard let tls = TLSMode(rawValue: tlsText) else {
            throw .invalid(variable: prefix + "TLS", reason: "expected one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if deployment == .prod, tls != .requireStartTLS {
            throw .invalid(variable: prefix + "TLS", reason: "TALLY_ENV=prod sends mail over STARTTLS only (require_starttls)")
        }
        let username = environment.optional(prefix + "USERNAME").flatMap { $0.isEmpty ? nil : $0 }
        let password = environment.optional(prefix + "PASSWORD").flatMap { $0.isEmpty ? nil : RedactedSecret($0) }
        guard (username == nil) == (password == nil) else {
            throw .invalid(variable: prefix + (username == nil ? "USERNAME" : "PASSWORD"), reason: "set both the username and the password, or neither")
        }
        let caFile = environment.optional(prefix + "CA_FILE").flatMap { $0.isEmpty ? nil : $0 }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw .invalid(variable: prefix + "CA_FILE", reason: "is not a readable file")
        }
        let connect = try environment.integer(prefix + "CONNECT_TIMEOUT_SECONDS", default: 10, range: 1...120)
        let command = try environment.integer(prefix + "COMMAND_TIMEOUT_SECONDS", default: 30, range: 1...600)
        self.init(
            name: name, host: host, port: port, tls: tls, username: username, password: password, heloName: heloName, trustRootsPEMFile: caFile,
            timeouts: Timeouts(connect: .seconds(connect), greeting: .seconds(command), command: .seconds(command), dataEnd: .seconds(command * 2)))
    }
}
