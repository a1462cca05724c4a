import Contracts
import Foundation

/// The parts of an HTTP request a verifier looks at: header values by lowercased name, and the
/// exact body bytes (signatures are always checked over the raw bytes, never re-encoded JSON).
public struct WebhookRequest: Sendable {
    public let headers: [String: String]
    public let body: [UInt8]

    /// `headers` may use any capitalisation; lookups are case-insensitive.
    public init(headers: [String: String], body: [UInt8]) {
        var lowered: [String: String] = [:]
        for (name, value) in headers { lowered[name.lowercased()] = value }
        self.headers = lowered
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    func require(_ name: String) throws(WebhookRefusal) -> String {
        guard let value = header(name).map({ String($0.trimmingSpaces) }), !value.isEmpty else {
            throw .missingHeader(name)
        }
        return value
    }
}

/// One secret of a source. Several may be active at once during a rotation.
public struct WebhookSecret: Sendable, Equatable {
    /// Identifies the secret in logs and metrics; never sent to a client.
    public let id: String
    /// The secret as the provider shows it (`whsec_…`, `pdl_ntfset_…`, a Hotmart token, or for
    /// Standard Webhooks' asymmetric scheme a `whpk_…` public key).
    public let value: String

    public init(id: String, value: String) {
        self.id = id
        self.value = value
    }
}

/// A request that passed verification.
public struct VerifiedDelivery: Sendable, Equatable {
    /// Which secret matched (for rotation metrics; never returned to the sender).
    public let secretID: String
    /// The signed timestamp, when the scheme has one.
    public let signedAt: Date?
    /// The sender's message id when the scheme carries one in a header (Standard Webhooks).
    public let messageID: String?
}

/// A provider's signature scheme.
public protocol WebhookVerifier: Sendable {
    /// Verifies `request` against `secrets` at `now`. Throws the refusal reason; with no
    /// secrets it always throws `.misconfiguredSource`.
    func verify(_ request: WebhookRequest, secrets: [WebhookSecret], now: Date) throws(WebhookRefusal) -> VerifiedDelivery
}

/// Checks `signedAt` against `tolerance` in both directions.
func checkTimestamp(_ signedAt: Date, now: Date, tolerance: Duration) throws(WebhookRefusal) {
    let limit = Double(tolerance.components.seconds)
    let age = now.timeIntervalSince(signedAt)
    if age > limit { throw .staleTimestamp }
    if -age > limit { throw .futureTimestamp }
}

/// Parses a whole number of seconds since 1970.
func parseUnixSeconds(_ text: String, header: String) throws(WebhookRefusal) -> Date {
    guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }), let seconds = Int64(text) else {
        throw .malformedHeader(header)
    }
    return Date(timeIntervalSince1970: TimeInterval(seconds))
}

extension Array where Element == UInt8 {
    init?(hex: String) {
        guard hex.utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.utf8.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self = bytes
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (header values; cheaper than Foundation's
    /// character-set trimming on a per-request path).
    public var trimmingSpaces: SubSequence {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return self[endIndex...] }
        let last = lastIndex(where: { !isSpace($0) })!
        return self[first...last]
    }
}
