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
/// A fallback account (another phone number or business solution provider) is read the same way
/// from `TALLY_WHATSAPP_FALLBACK_*` (API version and timeout are shared); it exists only with a
/// token, and takes over behind the channel's breaker when the first keeps failing.
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
    /// Names the account in `AttemptResult.provider` (`whatsapp:{name}`): `cloud`, `fallback`.
    var name: String = "cloud"

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

    /// The account under `prefix` (`TALLY_WHATSAPP_` or `TALLY_WHATSAPP_FALLBACK_`), named `name`.
    init(environment: EnvironmentReader, deployment: DeploymentEnvironment, prefix: String = "TALLY_WHATSAPP_", name: String = "cloud") throws(ConfigurationError) {
        let baseVariable = prefix + "API_BASE_URL"
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
        let tokenVariable = prefix + "TOKEN"
        let token = offline ? nil : environment.optional(tokenVariable)
        if let token {
            // The reason never quotes the token.
            guard token.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
                throw .invalid(variable: tokenVariable, reason: "holds whitespace or characters outside printable ASCII")
            }
        }

        let phoneVariable = prefix + "PHONE_NUMBER_ID"
        let phoneNumberID = environment.optional(phoneVariable) ?? ""
        if token != nil, !Self.isPhoneNumberID(phoneNumberID) {
            throw .invalid(variable: phoneVariable, reason: "expected the digits of the business phone number id when a token is set")
        }

        let seconds = try environment.integer("TALLY_WHATSAPP_TIMEOUT_SECONDS", default: Self.defaultTimeoutSeconds, range: 1...120)
        self.init(baseURL: base, apiVersion: version, phoneNumberID: phoneNumberID, token: token, timeout: .seconds(seconds))
        self.name = name
    }

    /// Whether messages go to Meta (a token is configured) or are stored offline.
    var isLive: Bool { token != nil }

    var description: String {
        "WhatsAppSettings(\(name), baseURL: \(baseURL), apiVersion: \(apiVersion), phoneNumberID: \(phoneNumberID), token: \(isLive ? "[redacted]" : "none, offline"), timeout: \(timeout))"
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
