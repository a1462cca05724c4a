import Foundation

/// An IPv4 or IPv6 address as a number, read from strict textual forms or from a socket address.
///
/// Guarantees:
/// - `init?(_:)` accepts only the forms every resolver and `inet_pton` agree on: IPv4 as four
///   decimal octets without leading zeros (`93.184.216.34`), IPv6 as RFC 4291 text with at most one
///   `::` and an optional dotted IPv4 tail (`::ffff:10.0.0.1`). Zone ids (`%eth0`), brackets, signs,
///   octal, hexadecimal and shortened IPv4 forms (`127.1`, `0x7f.1`, `2130706433`) are not
///   addresses here; a host written that way is resolved instead, and what it resolves to is checked.
/// - `description` is canonical (RFC 5952 for IPv6), and `init?(description)` reads it back to the
///   same address; `inet_pton` reads it too, so it can be handed to a connector.
enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bits in network order: `10.1.2.3` is `0x0A01_0203`.
    case v4(UInt32)
    /// The 128 bits in network order: `::1` is `1`.
    case v6(UInt128)

    init?(_ text: some StringProtocol) {
        let text = Substring(text)
        if text.contains(":") {
            guard let bits = Self.parseIPv6(text) else { return nil }
            self = .v6(bits)
        } else {
            guard let bits = Self.parseIPv4(text) else { return nil }
            self = .v4(bits)
        }
    }

    /// The address `a.b.c.d`.
    static func ipv4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> IPAddress {
        .v4(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
    }

    /// The address made of `bytes` in network order: 4 bytes for IPv4, 16 for IPv6; nil otherwise.
    init?(networkOrderBytes bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4: self = .v4(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16: self = .v6(bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
        default: return nil
        }
    }

    var isIPv6: Bool {
        if case .v6 = self { return true }
        return false
    }

    var description: String {
        switch self {
        case .v4(let bits): Self.formatIPv4(bits)
        case .v6(let bits): Self.formatIPv6(bits)
        }
    }

    // MARK: IPv4 text

    /// Four decimal octets 0–255, no leading zeros, nothing else.
    static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bits: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            guard part.utf8.count == 1 || part.utf8.first != 0x30 else { return nil }
            guard let octet = UInt32(part), octet <= 255 else { return nil }
            bits = bits << 8 | octet
        }
        return bits
    }

    static func formatIPv4(_ bits: UInt32) -> String {
        "\(bits >> 24).\((bits >> 16) & 0xFF).\((bits >> 8) & 0xFF).\(bits & 0xFF)"
    }

    // MARK: IPv6 text

    /// RFC 4291 section 2.2 text: eight groups of 1–4 hex digits, one `::` standing for one or
    /// more zero groups, and optionally the last 32 bits as a dotted IPv4 address.
    static func parseIPv6(_ text: Substring) -> UInt128? {
        guard (2...45).contains(text.utf8.count) else { return nil }
        var groups: [UInt16]
        if let gap = text.range(of: "::") {
            let after = text[gap.upperBound...]
            guard !after.contains("::"),
                let head = parseGroups(text[..<gap.lowerBound], allowingIPv4Tail: false),
                let tail = parseGroups(after, allowingIPv4Tail: true),
                head.count + tail.count <= 7
            else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = parseGroups(text, allowingIPv4Tail: true), all.count == 8 else { return nil }
            groups = all
        }
        return groups.reduce(UInt128(0)) { $0 << 16 | UInt128($1) }
    }

    /// Colon-separated hex groups (empty text is no groups); a dotted IPv4 last piece counts as two.
    private static func parseGroups(_ text: Substring, allowingIPv4Tail: Bool) -> [UInt16]? {
        guard !text.isEmpty else { return [] }
        let pieces = text.split(separator: ":", omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (index, piece) in pieces.enumerated() {
            if piece.contains(".") {
                guard allowingIPv4Tail, index == pieces.count - 1, let v4 = parseIPv4(piece) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xFFFF))
                continue
            }
            guard (1...4).contains(piece.utf8.count), piece.utf8.allSatisfy(isHexDigit), let group = UInt16(piece, radix: 16) else { return nil }
            groups.append(group)
        }
        return groups
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    /// RFC 5952: lower-case hex, no leading zeros, the longest run of two or more zero groups (the
    /// first on a tie) as `::`.
    static func formatIPv6(_ bits: UInt128) -> String {
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: bits >> (112 - 16 * $0)) }
        var bestStart = -1
        var bestLength = 0
        var runStart = -1
        for index in 0...8 {
            if index < 8, groups[index] == 0 {
                if runStart < 0 { runStart = index }
                continue
            }
            if runStart >= 0 {
                let length = index - runStart
                if length > bestLength, length >= 2 {
                    bestStart = runStart
                    bestLength = length
                }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        guard bestStart >= 0 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
