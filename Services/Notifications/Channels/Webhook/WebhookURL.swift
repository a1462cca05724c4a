import Foundation

/// Why a tenant's endpoint URL is not one the service calls. The raw value is the stable name in
/// attempt reasons (`url_refused:<raw value>`).
enum WebhookURLProblem: String, Error, Sendable, Equatable, CaseIterable {
    /// Not an absolute `scheme://host…` URL in printable ASCII, or one that HTTP clients would read
    /// differently from this parser.
    case malformed
    /// Not `https` (plain `http` is for loopback test endpoints only, behind `allowLoopbackHTTP`).
    case httpsRequired = "https_required"
    /// `user:password@` before the host.
    case userInfo = "userinfo"
    case hostMissing = "host_missing"
    /// A host with characters outside letters, digits, `-` and `.`, or empty labels.
    case hostInvalid = "host_invalid"
    /// A port that is not a number from 1 to 65535.
    case portInvalid = "port_invalid"
}

/// An endpoint URL that passed the syntax part of the URL rule.
///
/// Guarantees: the scheme is `http` or `https`; there is no user info; the host is an IP literal or
/// a name of ASCII letters, digits, `-` and `.`; `host` is exactly what Foundation's `URL.host`
/// (the reading AsyncHTTPClient uses) gives for `text`, without IPv6 brackets, so it can key a
/// DNS override; `port` is 1–65535 or absent.
struct WebhookURL: Sendable, Equatable {
    enum Scheme: String, Sendable {
        case https, http
    }

    /// The longest URL taken; endpoints are registered by people, not generated.
    static let maxLength = 2048

    /// The URL as the tenant registered it; the request goes to exactly this URL.
    let text: String
    let scheme: Scheme
    let host: String
    let port: Int?
    /// The address when the host is an IPv4 or IPv6 literal; nil for a name.
    let literalAddress: IPAddress?

    /// Whether the host is `localhost`, `127.0.0.1` or `[::1]`: the only hosts plain `http` may
    /// name, and only with `allowLoopbackHTTP`.
    var namesLoopbackHost: Bool {
        host.lowercased() == "localhost" || literalAddress == .ipv4(127, 0, 0, 1) || literalAddress == .v6(1)
    }

    /// Reads `text` strictly; see `WebhookURLProblem` for what is refused.
    static func parse(_ text: String) -> Result<WebhookURL, WebhookURLProblem> {
        guard !text.isEmpty, text.utf8.count <= maxLength, text.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return .failure(.malformed)
        }
        guard let separator = text.range(of: "://") else { return .failure(.malformed) }
        let schemeText = text[..<separator.lowerBound].lowercased()
        guard let scheme = Scheme(rawValue: schemeText) else {
            let isScheme = !schemeText.isEmpty && schemeText.utf8.allSatisfy(isSchemeByte)
            return .failure(isScheme ? .httpsRequired : .malformed)
        }
        let rest = text[separator.upperBound...]
        let authority = rest[..<(rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex)]
        guard !authority.contains("@") else { return .failure(.userInfo) }
        guard !authority.isEmpty else { return .failure(.hostMissing) }

        let hostText: Substring
        let portText: Substring?
        let literal: IPAddress?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return .failure(.malformed) }
            hostText = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.isEmpty {
                portText = nil
            } else if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else {
                return .failure(.malformed)
            }
            guard hostText.contains(":"), let address = IPAddress(hostText) else { return .failure(.hostInvalid) }
            literal = address
        } else {
            if let colon = authority.lastIndex(of: ":") {
                hostText = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                hostText = authority
                portText = nil
            }
            guard !hostText.isEmpty else { return .failure(.hostMissing) }
            guard isHostName(hostText) else { return .failure(.hostInvalid) }
            literal = IPAddress(hostText)
        }

        var port: Int?
        if let portText {
            guard (1...5).contains(portText.utf8.count), portText.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                let number = Int(portText), (1...65535).contains(number)
            else { return .failure(.portInvalid) }
            port = number
        }

        // The client reads the URL with Foundation: refuse anything it would read differently.
        guard let url = URL(string: text), let foundationHost = url.host, url.scheme?.lowercased() == scheme.rawValue, url.port == port else {
            return .failure(.malformed)
        }
        let host = trimmingBrackets(foundationHost)
        guard host.lowercased() == hostText.lowercased() else { return .failure(.malformed) }
        return .success(WebhookURL(text: text, scheme: scheme, host: host, port: port, literalAddress: literal))
    }

    /// Letters, digits, `-` and `.`; labels of 1–63 characters (a final dot allowed); 253 at most.
    static func isHostName(_ text: Substring) -> Bool {
        guard text.utf8.count <= 254 else { return false }
        var labels = text.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count > 1, labels.last?.isEmpty == true { labels.removeLast() }
        return labels.allSatisfy { label in (1...63).contains(label.utf8.count) && label.utf8.allSatisfy(isHostByte) }
    }

    /// ASCII letters, digits and `-`.
    static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"): true
        default: false
        }
    }

    /// What RFC 3986 allows in a (lower-cased) scheme.
    static func isSchemeByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."): true
        default: false
        }
    }

    static func trimmingBrackets(_ host: String) -> String {
        guard host.hasPrefix("["), host.hasSuffix("]"), host.count >= 2 else { return host }
        return String(host.dropFirst().dropLast())
    }
}
