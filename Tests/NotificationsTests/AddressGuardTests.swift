import Foundation
import Testing

@testable import Notifications

/// The SSRF guard of tenant webhooks: every refused class in IPv4, IPv6 and IPv4-carrying IPv6
/// spellings, the public addresses that pass, the strict address parser, the URL rule, and the
/// resolver's "any refused address refuses the endpoint" rule. No network (one test reads
/// `localhost` from `/etc/hosts` through the system resolver).
@Suite("Webhook address guard")
struct AddressGuardTests {
    static func classify(_ text: String) throws -> RefusedAddressClass? {
        let address = try #require(IPAddress(text), "\(text) should parse")
        return AddressGuard.classify(address)
    }

    // MARK: One test per refused class: IPv4, IPv6, IPv4-mapped (and other IPv4-carrying forms)

    @Test(arguments: ["127.0.0.1", "127.1.2.3", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::ffff:7f00:1", "64:ff9b::127.0.0.1", "2002:7f00:1::1"])
    func loopbackIsRefused(address: String) throws {
        #expect(try Self.classify(address) == .loopback)
    }

    @Test(arguments: [
        "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "fc00::1", "fd12:3456:789a::1", "fec0::1", "::ffff:10.0.0.1",
        "::ffff:192.168.0.1", "::ffff:0:172.20.0.1", "64:ff9b::10.1.2.3", "::10.0.0.1",
    ])
    func privateIsRefused(address: String) throws {
        #expect(try Self.classify(address) == .private)
    }

    @Test(arguments: ["169.254.0.1", "169.254.169.253", "fe80::1", "febf:ffff::1", "::ffff:169.254.1.1", "64:ff9b::169.254.10.10"])
    func linkLocalIsRefused(address: String) throws {
        #expect(try Self.classify(address) == .linkLocal)
    }

    @Test(arguments: ["100.64.0.1", "100.127.255.254", "::ffff:100.64.0.1", "64:ff9b::100.64.0.1", "2002:6440:1::"])
    func cgnatIsRefused(address: String) throws {
        #expect(try Self.classify(address) == .cgnat)
    }

    @Test(arguments: ["224.0.0.1", "239.255.255.250", "ff02::1", "ff05::1:3", "::ffff:224.0.0.251", "64:ff9b::239.1.2.3"])
    func multicastIsRefused(address: String) throws {
        #expect(try Self.classify(address) == .multicast)
    }

    @Test(arguments: [
        "169.254.169.254", "100.100.100.200", "168.63.129.16", "fd00:ec2::254", "::ffff:169.254.169.254", "::ffff:a9fe:a9fe",
        "64:ff9b::169.254.169.254", "::ffff:100.100.100.200",
    ])
    func metadataIsRefused(address: String) throws {
        #expect(try Self.classify(address) == .metadata)
    }

    @Test(arguments: ["0.0.0.0", "0.1.2.3", "::", "0:0:0:0:0:0:0:0", "::ffff:0.0.0.0", "64:ff9b::0.0.0.1"])
    func unspecifiedIsRefused(address: String) throws {
        #expect(try Self.classify(address) == .unspecified)
    }

    @Test(arguments: [
        "240.0.0.1", "250.1.2.3", "192.0.0.8", "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.1", "198.19.255.255", "192.88.99.1",
        "2001:db8::1", "3fff::1", "2001::1", "2001:2::1", "2001:10::1", "100::1", "64:ff9b:1::a", "4000::1", "::1:0:0:0",
        "::ffff:203.0.113.1", "::ffff:192.0.2.10", "64:ff9b::198.51.100.1",
    ])
    func reservedIsRefused(address: String) throws {
        #expect(try Self.classify(address) == .reserved)
    }

    @Test(arguments: ["255.255.255.255", "::ffff:255.255.255.255", "64:ff9b::255.255.255.255"])
    func broadcastIsRefused(address: String) throws {
        #expect(try Self.classify(address) == .broadcast)
    }

    @Test(arguments: [
        "93.184.216.34", "8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.63.255.255", "100.128.0.1", "169.255.0.1", "223.255.255.254",
        "2606:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001:82a::200e", "::ffff:93.184.216.34", "64:ff9b::93.184.216.34",
        "2002:5db8:d822::1",
    ])
    func publicAddressesAreAllowed(address: String) throws {
        #expect(try Self.classify(address) == nil)
        let parsed = try #require(IPAddress(address))
        #expect(AddressGuard().verdict(for: parsed) == .allowed)
    }

    /// The test setting lets loopback through, and nothing else.
    @Test func allowLoopbackHTTPAllowsOnlyLoopback() throws {
        let relaxed = AddressGuard(allowLoopbackHTTP: true)
        for loopback in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            let address = try #require(IPAddress(loopback))
            #expect(relaxed.verdict(for: address) == .allowed, "\(loopback)")
            #expect(AddressGuard().verdict(for: address) == .refused(.loopback), "\(loopback)")
        }
        let others: [(String, RefusedAddressClass)] = [
            ("10.0.0.1", .private), ("169.254.1.1", .linkLocal), ("100.64.0.1", .cgnat), ("224.0.0.1", .multicast),
            ("169.254.169.254", .metadata), ("0.0.0.0", .unspecified), ("240.0.0.1", .reserved), ("255.255.255.255", .broadcast),
            ("fd00:ec2::254", .metadata), ("fe80::1", .linkLocal), ("::", .unspecified),
        ]
        for (text, refused) in others {
            let address = try #require(IPAddress(text))
            #expect(relaxed.verdict(for: address) == .refused(refused), "\(text)")
        }
    }

    @Test func everyRefusedClassIsCovered() {
        #expect(
            Set(RefusedAddressClass.allCases.map(\.rawValue)) == [
                "loopback", "private", "link_local", "cgnat", "multicast", "metadata", "unspecified", "reserved", "broadcast",
            ])
    }

    // MARK: The address parser

    /// Forms some resolvers accept but that are not plain addresses: they are resolved (and what
    /// they resolve to is checked), never read as literals here.
    @Test(arguments: [
        "", "127.1", "0x7f.0.0.1", "010.0.0.1", "2130706433", "1.2.3.4.5", "256.0.0.1", "1.2.3.-4", "+1.2.3.4", " 1.2.3.4", "::1%eth0", "[::1]",
        "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "12345::", "::ffff:1.2.3", "1.2.3.4::", "::g", ":1::", "1::2:", "::ffff:01.2.3.4",
    ])
    func ambiguousOrInvalidTextIsNotAnAddress(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test(arguments: [
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("::ffff:1.2.3.4", "::ffff:102:304"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("0:0:0:0:0:0:0:0", "::"), ("fe80::", "fe80::"), ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"), ("93.184.216.34", "93.184.216.34"),
        ("0.0.0.0", "0.0.0.0"), ("1:0:0:0:2:0:0:3", "1::2:0:0:3"),
    ])
    func addressesPrintCanonicallyAndReadBack(text: String, canonical: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
    }

    @Test func socketAddressBytesMakeTheSameAddresses() {
        let v4: [UInt8] = [93, 184, 216, 34]
        let v6: [UInt8] = Array(repeating: 0, count: 15) + [1]
        let short: [UInt8] = [1, 2, 3]
        #expect(IPAddress(networkOrderBytes: v4) == IPAddress("93.184.216.34"))
        #expect(IPAddress(networkOrderBytes: v6) == IPAddress("::1"))
        #expect(IPAddress(networkOrderBytes: short) == nil)
    }

    // MARK: The URL rule

    @Test(arguments: [
        ("http://hooks.example.com/tally", WebhookURLProblem.httpsRequired),
        ("http://127.0.0.1:8080/hook", .httpsRequired),
        ("http://localhost:8080/hook", .httpsRequired),
        ("ftp://hooks.example.com/", .httpsRequired),
        ("https://user:secret@hooks.example.com/", .userInfo),
        ("https://user@hooks.example.com/", .userInfo),
        ("https://hooks.example.com@169.254.169.254/", .userInfo),
        ("https:///tally", .hostMissing),
        ("https://:443/tally", .hostMissing),
        ("https://hooks.example.com:0/", .portInvalid),
        ("https://hooks.example.com:65536/", .portInvalid),
        ("https://hooks.example.com:https/", .portInvalid),
        ("https://hooks.example.com:/", .portInvalid),
        ("https://ex%41mple.com/", .hostInvalid),
        ("https://hooks..example.com/", .hostInvalid),
        ("https://[::1/", .malformed),
        ("https://[not-v6]/", .hostInvalid),
        ("https://exa mple.com/", .malformed),
        ("https://exämple.com/", .malformed),
        ("hooks.example.com/tally", .malformed),
        ("javascript:alert(1)", .malformed),
        ("", .malformed),
    ])
    func urlsBreakingTheRuleAreRefused(url: String, problem: WebhookURLProblem) {
        #expect(AddressGuard().checkURL(url).refusal == problem)
    }

    @Test func httpsURLsPassWithTheirHostAndPort() throws {
        let plain = try AddressGuard().checkURL("https://Hooks.Example.com/tally?source=tally#x").get()
        #expect(plain.scheme == .https)
        #expect(plain.host.lowercased() == "hooks.example.com")
        #expect(plain.port == nil)
        #expect(plain.literalAddress == nil)

        let literal = try AddressGuard().checkURL("https://[2606:4700::1111]:8443/hook").get()
        #expect(literal.host == "2606:4700::1111")
        #expect(literal.port == 8443)
        #expect(literal.literalAddress == IPAddress("2606:4700::1111"))
    }

    /// Plain http is refused without the test setting, allowed with it to loopback hosts only.
    @Test func plainHTTPIsForLoopbackWithTheTestSettingOnly() throws {
        let relaxed = AddressGuard(allowLoopbackHTTP: true)
        for url in ["http://127.0.0.1:8080/hook", "http://localhost:9000/", "http://[::1]:9000/hook"] {
            #expect(AddressGuard().checkURL(url).refusal == .httpsRequired, "\(url)")
            #expect((try? relaxed.checkURL(url).get()) != nil, "\(url)")
        }
        for url in ["http://hooks.example.com/", "http://10.0.0.1/", "http://127.0.0.2/", "http://93.184.216.34/"] {
            #expect(relaxed.checkURL(url).refusal == .httpsRequired, "\(url)")
        }
    }

    // MARK: Resolution: any refused address refuses the endpoint

    static let publicV4 = IPAddress.ipv4(93, 184, 216, 34)
    static let publicV6 = IPAddress("2606:4700::1111")!

    @Test func aLiteralHostIsCheckedWithoutResolving() async {
        // The table is empty: any lookup would fail with dns_failed.
        let strict = EndpointResolver(addressGuard: AddressGuard(), resolver: StaticHostResolver([:]))
        #expect(await strict.resolve("https://127.0.0.1/hook").refusal == .address(.loopback))
        #expect(await strict.resolve("https://169.254.169.254/latest/meta-data/").refusal == .address(.metadata))
        #expect(await strict.resolve("https://[::ffff:10.0.0.1]/hook").refusal == .address(.private))
        #expect(await strict.resolve("https://[fd00:ec2::254]/").refusal == .address(.metadata))
        #expect((try? await strict.resolve("https://93.184.216.34/hook").get())?.address == Self.publicV4)

        let relaxed = EndpointResolver(addressGuard: AddressGuard(allowLoopbackHTTP: true), resolver: StaticHostResolver([:]))
        #expect((try? await relaxed.resolve("http://127.0.0.1:8080/hook").get())?.address == .ipv4(127, 0, 0, 1))
    }

    @Test func oneRefusedAddressAmongManyRefusesTheName() async {
        let resolver = StaticHostResolver([
            "mixed.example.com": [Self.publicV4, .ipv4(10, 0, 0, 7)],
            "rebind.example.com": [Self.publicV6, IPAddress("::ffff:169.254.169.254")!],
            "public.example.com": [Self.publicV6, Self.publicV4],
            "localhost": [IPAddress("::1")!, .ipv4(127, 0, 0, 1)],
            "loopback-and-public.example": [.ipv4(127, 0, 0, 1), Self.publicV4],
        ])
        let strict = EndpointResolver(addressGuard: AddressGuard(), resolver: resolver)
        #expect(await strict.resolve("https://mixed.example.com/hook").refusal == .address(.private))
        #expect(await strict.resolve("https://rebind.example.com/hook").refusal == .address(.metadata))
        #expect(await strict.resolve("https://localhost/hook").refusal == .address(.loopback))
        #expect(await strict.resolve("https://nowhere.example.com/hook").refusal == .resolutionFailed(code: "EAI_NONAME"))

        // IPv4 is preferred among allowed addresses.
        let endpoint = try? await strict.resolve("https://public.example.com/hook").get()
        #expect(endpoint?.address == Self.publicV4)
        #expect(endpoint?.addresses == [Self.publicV6, Self.publicV4])

        let relaxed = EndpointResolver(addressGuard: AddressGuard(allowLoopbackHTTP: true), resolver: resolver)
        #expect((try? await relaxed.resolve("http://localhost:8080/hook").get())?.address == .ipv4(127, 0, 0, 1))
        #expect(await relaxed.resolve("https://mixed.example.com/hook").refusal == .address(.private))
    }

    @Test func refusalsNameTheirReasonAndWhetherToRetry() {
        #expect(EndpointRefusal.address(.metadata).reason == "address_refused:metadata")
        #expect(EndpointRefusal.address(.linkLocal).reason == "address_refused:link_local")
        #expect(EndpointRefusal.url(.userInfo).reason == "url_refused:userinfo")
        #expect(EndpointRefusal.plainHTTPBeyondLoopback.reason == "url_refused:https_required")
        #expect(EndpointRefusal.resolutionFailed(code: "EAI_AGAIN").reason == "dns_failed")
        #expect(EndpointRefusal.timedOut.reason == "timeout")
        #expect(!EndpointRefusal.address(.private).isTransient)
        #expect(EndpointRefusal.resolutionFailed(code: "EAI_AGAIN").isTransient)
    }

    /// The system resolver, through `/etc/hosts`: `localhost` is loopback only.
    @Test func theSystemResolverFindsLocalhostOnLoopback() async throws {
        let addresses = try await SystemHostResolver().addresses(of: "localhost").get()
        #expect(!addresses.isEmpty)
        for address in addresses {
            #expect(AddressGuard.classify(address) == .loopback, "\(address)")
        }
    }
}

extension Result {
    /// The error, or nil on success.
    fileprivate var refusal: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
