import Foundation

/// Why an address may not be the target of a tenant's webhook: each names a kind of place a
/// tenant could use the service to reach that it must not (the host itself, the internal network,
/// the cloud's metadata service, …). The raw value is the stable name in attempt reasons
/// (`address_refused:<raw value>`).
enum RefusedAddressClass: String, Sendable, Equatable, CaseIterable {
    /// 127.0.0.0/8 and ::1: this host.
    case loopback
    /// 10/8, 172.16/12, 192.168/16 (RFC 1918) and fc00::/7 (unique local), fec0::/10 (site-local).
    case `private`
    /// 169.254/16 (other than the metadata addresses) and fe80::/10.
    case linkLocal = "link_local"
    /// 100.64/10: carrier-grade NAT (RFC 6598).
    case cgnat
    /// 224/4 and ff00::/8.
    case multicast
    /// Cloud instance metadata services: 169.254.169.254 (AWS, GCP, Azure, …), fd00:ec2::254 (AWS
    /// over IPv6), 100.100.100.200 (Alibaba), 168.63.129.16 (Azure's wire server).
    case metadata
    /// 0.0.0.0/8 and ::, which connect to this host on most systems.
    case unspecified
    /// Not routable on the Internet: 240/4, 192.0.0/24, 198.18/15 (benchmarking), 192.88.99/24
    /// (6to4 relays), the documentation ranges 192.0.2/24, 198.51.100/24, 203.0.113/24,
    /// 2001:db8::/32 and 3fff::/20, Teredo, ORCHID, discard-only 100::/64, local-use NAT64
    /// 64:ff9b:1::/48, and every IPv6 address outside global unicast 2000::/3.
    case reserved
    /// 255.255.255.255.
    case broadcast
}

/// What `AddressGuard` says about one address.
enum AddressVerdict: Sendable, Equatable {
    case allowed
    case refused(RefusedAddressClass)
}

/// The SSRF guard of tenant webhooks: which addresses and URLs the service may call.
///
/// Guarantees:
/// - `classify` is pure and total: every IPv4 and IPv6 address is either public (nil) or in
///   exactly one `RefusedAddressClass`, checked most specific first (metadata before link-local
///   and CGNAT, broadcast before reserved).
/// - An IPv6 address that carries an IPv4 address — IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated
///   `::ffff:0:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and 6to4 `2002::/16` —
///   is judged as that IPv4 address, so no IPv6 spelling reaches a refused IPv4 address.
/// - Only loopback can ever be allowed by a setting: `allowLoopbackHTTP` (tests and the local
///   acceptance run) allows loopback addresses, and plain `http://` to a loopback host. Every other
///   class is refused whatever the settings.
struct AddressGuard: Sendable, Equatable {
    /// Allows loopback addresses and `http://` to `127.0.0.1`, `[::1]` or `localhost`. Never set
    /// it in production.
    var allowLoopbackHTTP: Bool

    init(allowLoopbackHTTP: Bool = false) {
        self.allowLoopbackHTTP = allowLoopbackHTTP
    }

    /// Whether the service may connect to `address`.
    func verdict(for address: IPAddress) -> AddressVerdict {
        guard let refused = Self.classify(address) else { return .allowed }
        if refused == .loopback, allowLoopbackHTTP { return .allowed }
        return .refused(refused)
    }

    /// Reads a tenant's endpoint URL under the URL rule: `https` only (`http` only to a loopback
    /// host with `allowLoopbackHTTP`), no user info, a host, an optional port 1–65535. Says
    /// nothing about the addresses behind the host: `EndpointResolver` checks those.
    func checkURL(_ text: String) -> Result<WebhookURL, WebhookURLProblem> {
        switch WebhookURL.parse(text) {
        case .failure(let problem):
            return .failure(problem)
        case .success(let url):
            switch url.scheme {
            case .https:
                return .success(url)
            case .http:
                return allowLoopbackHTTP && url.namesLoopbackHost ? .success(url) : .failure(.httpsRequired)
            }
        }
    }

    // MARK: Classification

    /// The class that refuses `address`, or nil when it is a public address.
    static func classify(_ address: IPAddress) -> RefusedAddressClass? {
        switch address {
        case .v4(let bits): classifyIPv4(bits)
        case .v6(let bits): classifyIPv6(bits)
        }
    }

    /// A network: the first `length` bits of `base`.
    struct IPv4Block: Sendable {
        let base: UInt32
        let length: Int

        init(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, length: Int) {
            base = a << 24 | b << 16 | c << 8 | d
            self.length = length
        }

        func contains(_ bits: UInt32) -> Bool {
            length == 0 || (bits ^ base) >> (32 - length) == 0
        }
    }

    /// A network: the first `length` bits of `base`.
    struct IPv6Block: Sendable {
        let base: UInt128
        let length: Int

        /// `groups` are the leading 16-bit groups of the base; the rest are zero.
        init(_ groups: [UInt16], length: Int) {
            var base: UInt128 = 0
            for index in 0..<8 {
                base = base << 16 | UInt128(index < groups.count ? groups[index] : 0)
            }
            self.base = base
            self.length = length
        }

        func contains(_ bits: UInt128) -> Bool {
            length == 0 || (bits ^ base) >> (128 - length) == 0
        }
    }

    /// Most specific first: the first block that holds an address decides its class.
    static let ipv4Blocks: [(IPv4Block, RefusedAddressClass)] = [
        (IPv4Block(255, 255, 255, 255, length: 32), .broadcast),
        (IPv4Block(169, 254, 169, 254, length: 32), .metadata),
        (IPv4Block(100, 100, 100, 200, length: 32), .metadata),
        (IPv4Block(168, 63, 129, 16, length: 32), .metadata),
        (IPv4Block(0, 0, 0, 0, length: 8), .unspecified),
        (IPv4Block(127, 0, 0, 0, length: 8), .loopback),
        (IPv4Block(10, 0, 0, 0, length: 8), .private),
        (IPv4Block(172, 16, 0, 0, length: 12), .private),
        (IPv4Block(192, 168, 0, 0, length: 16), .private),
        (IPv4Block(169, 254, 0, 0, length: 16), .linkLocal),
        (IPv4Block(100, 64, 0, 0, length: 10), .cgnat),
        (IPv4Block(224, 0, 0, 0, length: 4), .multicast),
        (IPv4Block(240, 0, 0, 0, length: 4), .reserved),
        (IPv4Block(192, 0, 0, 0, length: 24), .reserved),
        (IPv4Block(192, 0, 2, 0, length: 24), .reserved),
        (IPv4Block(198, 51, 100, 0, length: 24), .reserved),
        (IPv4Block(203, 0, 113, 0, length: 24), .reserved),
        (IPv4Block(198, 18, 0, 0, length: 15), .reserved),
        (IPv4Block(192, 88, 99, 0, length: 24), .reserved),
    ]

    /// Most specific first; checked after the addresses that carry IPv4.
    static let ipv6Blocks: [(IPv6Block, RefusedAddressClass)] = [
        (IPv6Block([0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254], length: 128), .metadata),
        (IPv6Block([0xfc00], length: 7), .private),
        (IPv6Block([0xfec0], length: 10), .private),
        (IPv6Block([0xfe80], length: 10), .linkLocal),
        (IPv6Block([0xff00], length: 8), .multicast),
        (IPv6Block([0x2001, 0x0db8], length: 32), .reserved),
        (IPv6Block([0x3fff], length: 20), .reserved),
        (IPv6Block([0x2001, 0x0000], length: 32), .reserved),  // Teredo
        (IPv6Block([0x2001, 0x0002, 0x0000], length: 48), .reserved),  // benchmarking
        (IPv6Block([0x2001, 0x0010], length: 28), .reserved),  // ORCHID
        (IPv6Block([0x2001, 0x0020], length: 28), .reserved),  // ORCHIDv2
        (IPv6Block([0x0100, 0, 0, 0], length: 64), .reserved),  // discard-only
        (IPv6Block([0x0064, 0xff9b, 0x0001], length: 48), .reserved),  // local-use NAT64
    ]

    static let globalUnicast = IPv6Block([0x2000], length: 3)

    static func classifyIPv4(_ bits: UInt32) -> RefusedAddressClass? {
        ipv4Blocks.first(where: { $0.0.contains(bits) })?.1
    }

    static func classifyIPv6(_ bits: UInt128) -> RefusedAddressClass? {
        if bits == 0 { return .unspecified }
        if bits == 1 { return .loopback }
        if let carried = embeddedIPv4(bits) { return classifyIPv4(carried) }
        if let block = ipv6Blocks.first(where: { $0.0.contains(bits) }) { return block.1 }
        return globalUnicast.contains(bits) ? nil : .reserved
    }

    /// The IPv4 address an IPv6 address stands for, when it is one of the forms that carry one.
    static func embeddedIPv4(_ bits: UInt128) -> UInt32? {
        let low = UInt32(truncatingIfNeeded: bits)
        let upper96 = bits >> 32
        if upper96 == 0x0000_ffff { return low }  // ::ffff:a.b.c.d, IPv4-mapped
        if upper96 == 0xffff_0000 { return low }  // ::ffff:0:a.b.c.d, IPv4-translated
        if upper96 == 0 { return low }  // ::a.b.c.d, IPv4-compatible (:: and ::1 are taken first)
        if upper96 == UInt128(0x0064_ff9b) << 64 { return low }  // 64:ff9b::a.b.c.d, NAT64
        if bits >> 112 == 0x2002 { return UInt32(truncatingIfNeeded: bits >> 80) }  // 2002:aabb:ccdd::, 6to4
        return nil
    }
}
