import Contracts
import Crypto
import Foundation

/// Links a customer can open without an account: `<base>/invoices/<id>.html?org=…&expires=…&signature=…`,
/// signed with HMAC-SHA256 over the org, the invoice id and the expiry, so a link opens only its
/// own invoice of its own org and only until it expires. The key never leaves the service.
struct InvoiceLinks: Sendable {
    /// The signing key's bytes (a `SymmetricKey` is made per signature: it is not `Sendable`).
    let key: [UInt8]
    /// The public base URL the links start with, without a trailing slash.
    let baseURL: String

    /// Links live 1 hour to 90 days; 7 days unless asked otherwise.
    static let lifetimes: ClosedRange<Int> = 1...(90 * 24)
    static let defaultLifetimeHours = 7 * 24

    func url(org: TenantID, invoiceID: String, expires: Date) -> String {
        let seconds = Int64(expires.timeIntervalSince1970.rounded(.down))
        let query = [
            ("org", org.rawValue), ("expires", String(seconds)), ("signature", signature(org: org.rawValue, invoiceID: invoiceID, expires: seconds)),
        ].map { "\($0.0)=\(Self.escape($0.1))" }.joined(separator: "&")
        return "\(baseURL)/invoices/\(Self.escape(invoiceID)).html?\(query)"
    }

    enum Refusal: Error, Equatable {
        case badSignature
        case expired
    }

    /// Whether a link's parts are the ones this service signed and it has not expired at `now`.
    func check(org: String, invoiceID: String, expires: Int64, signature: String, now: Date) -> Refusal? {
        let expected = self.signature(org: org, invoiceID: invoiceID, expires: expires)
        guard Self.constantTimeEqual(Array(expected.utf8), Array(signature.utf8)) else { return .badSignature }
        return Double(expires) > now.timeIntervalSince1970 ? nil : .expired
    }

    private func signature(org: String, invoiceID: String, expires: Int64) -> String {
        let message = Array("tally-invoice-link\n\(org)\n\(invoiceID)\n\(expires)".utf8)
        return HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)).map { String(format: "%02x", $0) }.joined()
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}
