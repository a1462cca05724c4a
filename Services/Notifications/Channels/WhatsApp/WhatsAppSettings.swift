import Foundation
import ServiceRuntime

/// How the WhatsApp channel reaches Meta's Cloud API, read from the environment:
///
/// - `TALLY_WHATSAPP_API_BASE_URL`: the Graph API (`https://graph.facebook.com` by default); `http://`
///   is refused when `TALLY_ENV=prod`.
/// - `TALLY_WHATSAPP_API_VERSION`: the Graph API version, `v<major>.<minor>` (`v21.0` by default).
/// - `TALLY_WHATSAPP_PHONE_NUMBER_ID`: the business phone number's id (digits); required with a token.
/// - `TALLY_WHATSAPP_TOKEN`: the access token. Absent or empty, or with `WA_OFFLINE=1`, the channel
///   runs offline: messages are stored, not sent, and count as delivered-offline.
/// - `TALLY_WHATSAPP_TIMEOUT_SECONDS`: the deadline of one send, 1 to 120 (15 by default).
///
/// No description, debug description or error of these settings holds the token.
struct WhatsAppSettings: Sendable, Equatable, CustomStringConvertible {
    static let defaultBaseURL = "https://graph.facebook.com"
    static let defaultAPIVersion = "v21.0"
    static let defaultTimeoutSeconds = 15

    /// Without a trailing slash.
    var baseURL: String
    var apiVersion: String
    var phoneNumberID: String
    /// Nil when the channel runs offline.
    var token: RedactedSecret?
    /// The whole send: connecting, sending and reading the answer.
    var timeout: Duration

    init(
        baseURL: String = defaultBaseURL, apiVersion: String = defaultAPIVersion, phoneNumberID: String = "", token: String? = nil,
        timeout: Duration = .seconds(defaultTimeoutSeconds)
    ) {
        var trimmed = Substring(baseURL)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        self.baseURL = String(trimmed)
        self.apiVersion = apiVersion
        self.phoneNumberID = phoneNumberID
        self.token = token.flatMap { $0.isEmpty ? nil : RedactedSecret($0) }
        self.timeout = timeout
    }

    init(environment: EnvironmentReader, deployment: DeploymentEnvironment) throws(ConfigurationError) {
        let baseVariable = "TALLY_WHATSAPP_API_BASE_URL"
        let base = try environment.string(baseVariable, default: Self.defaultBaseURL)
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil, url.user == nil
        else {
            throw .invalid(variable: baseVariable, reason: "expected an http or https URL such as \(Self.defaultBaseURL)")
        }
        if deployment == .prod, scheme != "https" {
            throw .invalid(variable: baseVariable, reason: "TALLY_ENV=prod sends the access token over https only")
        }

        let versionVariable = "TALLY_WHATSAPP_API_VERSION"
        let version = try environment.string(versionVariable, default: Self.defaultAPIVersion)
        guard Self.isAPIVersion(version) else {
            throw .invalid(variable: versionVariable, reason: "expected a Graph API version such as \(Self.defaultAPIVersion)")
        }

        let offline = environment.optional("WA_OFFLINE") == "1"
        let tokenVariable = "TALLY_WHATSAPP_TOKEN"
        let token = offline ? nil : environment.optional(tokenVariable)
        if let token {
            // The reason never quotes the token.
            guard token.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
                throw .invalid(variable: tokenVariable, reason: "holds whitespace or characters outside printable ASCII")
            }
        }

        let phoneVariable = "TALLY_WHATSAPP_PHONE_NUMBER_ID"
        let phoneNumberID = environment.optional(phoneVariable) ?? ""
        if token != nil, !Self.isPhoneNumberID(phoneNumberID) {
            throw .invalid(variable: phoneVariable, reason: "expected the digits of the business phone number id when a token is set")
        }

        let seconds = try environment.integer("TALLY_WHATSAPP_TIMEOUT_SECONDS", default: Self.defaultTimeoutSeconds, range: 1...120)
        self.init(baseURL: base, apiVersion: version, phoneNumberID: phoneNumberID, token: token, timeout: .seconds(seconds))
    }

    /// Whether messages go to Meta (a token is configured) or are stored offline.
    var isLive: Bool { token != nil }

    var description: String {
        "WhatsAppSettings(baseURL: \(baseURL), apiVersion: \(apiVersion), phoneNumberID: \(phoneNumberID), token: \(isLive ? "[redacted]" : "none, offline"), timeout: \(timeout))"
    }

    /// `v` and digits, a dot, digits: `v21.0`.
    static func isAPIVersion(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].hasPrefix("v") else { return false }
        let major = parts[0].dropFirst()
        let minor = parts[1]
        return !major.isEmpty && !minor.isEmpty && major.utf8.allSatisfy(isDigit) && minor.utf8.allSatisfy(isDigit)
    }

    static func isPhoneNumberID(_ text: String) -> Bool {
        (1...32).contains(text.utf8.count) && text.utf8.allSatisfy(isDigit)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
