import Foundation
import NIOPosix
import Synchronization

#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#endif

/// Why an endpoint is not called. Refusals are permanent; a failed or slow resolution is not.
enum EndpointRefusal: Error, Sendable, Equatable {
    /// The URL breaks the URL rule.
    case url(WebhookURLProblem)
    /// The host is, or resolves to (among others), an address of this class.
    case address(RefusedAddressClass)
    /// `http://` to a host that resolves to something other than loopback.
    case plainHTTPBeyondLoopback
    /// The name did not resolve (no such name, no addresses, the resolver failed); `code` names how.
    case resolutionFailed(code: String)
    /// The resolution did not finish in time.
    case timedOut

    /// Whether trying again later could succeed.
    var isTransient: Bool {
        switch self {
        case .resolutionFailed, .timedOut: true
        case .url, .address, .plainHTTPBeyondLoopback: false
        }
    }

    /// The stable reason an attempt records: `url_refused:<problem>`, `address_refused:<class>`,
    /// `dns_failed` or `timeout`.
    var reason: String {
        switch self {
        case .url(let problem): "url_refused:\(problem.rawValue)"
        case .address(let refused): "address_refused:\(refused.rawValue)"
        case .plainHTTPBeyondLoopback: "url_refused:\(WebhookURLProblem.httpsRequired.rawValue)"
        case .resolutionFailed: "dns_failed"
        case .timedOut: "timeout"
        }
    }
}

/// An endpoint that may be called, and the one address to call it at.
struct ResolvedEndpoint: Sendable, Equatable {
    let url: WebhookURL
    /// Every address the host had, all of them allowed; `address` is one of them.
    let addresses: [IPAddress]
    /// The checked address to connect to.
    let address: IPAddress
}

/// Turns an endpoint URL into the address to connect to, or a refusal.
///
/// Guarantees:
/// - The URL rule is checked first (`AddressGuard.checkURL`); an IP-literal host is not resolved.
/// - A name is resolved to all of its addresses, and the endpoint is refused if ANY of them is
///   refused (naming its class): a name with one public and one private address is refused, so
///   which one a connector would pick does not matter, and DNS answers that change between check
///   and connect are out of the picture because the caller connects to `address`, never to the name.
/// - `http://` (loopback test endpoints) is refused unless every address is loopback.
/// - `address` is the first allowed IPv4 address, else the first address (a host without IPv6
///   routes cannot reach an IPv6 address, and there is no second try at another address).
struct EndpointResolver: Sendable {
    let addressGuard: AddressGuard
    let resolver: any HostResolving

    init(addressGuard: AddressGuard = AddressGuard(), resolver: any HostResolving = SystemHostResolver()) {
        self.addressGuard = addressGuard
        self.resolver = resolver
    }

    /// The endpoint behind `urlText`, or why it is not called. Never throws; bounded by the
    /// resolver (wrap it in a deadline to bound it in time).
    func resolve(_ urlText: String) async -> Result<ResolvedEndpoint, EndpointRefusal> {
        let url: WebhookURL
        switch addressGuard.checkURL(urlText) {
        case .success(let checked): url = checked
        case .failure(let problem): return .failure(.url(problem))
        }

        let addresses: [IPAddress]
        if let literal = url.literalAddress {
            addresses = [literal]
        } else {
            switch await resolver.addresses(of: url.host) {
            case .success(let found) where !found.isEmpty: addresses = found
            case .success: return .failure(.resolutionFailed(code: "no_addresses"))
            case .failure(let failure): return .failure(.resolutionFailed(code: failure.code))
            }
        }
        return Self.choose(url: url, addresses: addresses, under: addressGuard)
    }

    /// The decision once the addresses are known: pure, so tests can pin it without a resolver.
    static func choose(url: WebhookURL, addresses: [IPAddress], under addressGuard: AddressGuard) -> Result<ResolvedEndpoint, EndpointRefusal> {
        guard let fallback = addresses.first else { return .failure(.resolutionFailed(code: "no_addresses")) }
        for address in addresses {
            if case .refused(let refused) = addressGuard.verdict(for: address) { return .failure(.address(refused)) }
        }
        if url.scheme == .http, !addresses.allSatisfy({ AddressGuard.classify($0) == .loopback }) {
            return .failure(.plainHTTPBeyondLoopback)
        }
        let chosen = addresses.first(where: { !$0.isIPv6 }) ?? fallback
        return .success(ResolvedEndpoint(url: url, addresses: addresses, address: chosen))
    }
}

// MARK: Resolving names

/// A name that did not resolve; `code` is stable (`EAI_NONAME`-like names, `no_addresses`,
/// `cancelled`) and holds no part of the name.
struct HostResolutionFailure: Error, Sendable, Equatable {
    let code: String
}

/// Resolves host names to addresses.
protocol HostResolving: Sendable {
    /// Every distinct address `host` resolves to, in the resolver's order. Returns promptly when
    /// the calling task is cancelled.
    func addresses(of host: String) async -> Result<[IPAddress], HostResolutionFailure>
}

/// The system resolver (`getaddrinfo`, so `/etc/hosts` and the configured DNS servers apply),
/// called on NIO's blocking thread pool so that it never blocks an event loop or the cooperative
/// pool.
///
/// `getaddrinfo` cannot be interrupted: a cancelled caller returns at once with `cancelled`, and
/// the lookup finishes on its thread and is dropped.
struct SystemHostResolver: HostResolving {
    let threadPool: NIOThreadPool

    init(threadPool: NIOThreadPool = .singleton) {
        self.threadPool = threadPool
    }

    func addresses(of host: String) async -> Result<[IPAddress], HostResolutionFailure> {
        let answer = ResumeOnce<Result<[IPAddress], HostResolutionFailure>>()
        let pool = threadPool
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                answer.install(continuation)
                pool.submit { state in
                    guard case .active = state else {
                        answer.resume(.failure(HostResolutionFailure(code: "cancelled")))
                        return
                    }
                    answer.resume(Self.lookUp(host))
                }
            }
        } onCancel: {
            answer.resume(.failure(HostResolutionFailure(code: "cancelled")))
        }
    }

    /// `getaddrinfo(host)` for TCP, as distinct addresses in the order returned. Blocks.
    static func lookUp(_ host: String) -> Result<[IPAddress], HostResolutionFailure> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
            hints.ai_socktype = SOCK_STREAM
        #elseif canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list else {
            return .failure(HostResolutionFailure(code: status == 0 ? "no_addresses" : gaiCode(status)))
        }
        defer { freeaddrinfo(first) }

        var addresses: [IPAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let socketAddress = entry.pointee.ai_addr, let address = Self.address(socketAddress, family: entry.pointee.ai_family),
                !addresses.contains(address)
            {
                addresses.append(address)
            }
            cursor = entry.pointee.ai_next
        }
        return addresses.isEmpty ? .failure(HostResolutionFailure(code: "no_addresses")) : .success(addresses)
    }

    static func address(_ socketAddress: UnsafeMutablePointer<sockaddr>, family: Int32) -> IPAddress? {
        switch family {
        case AF_INET:
            let sin = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
            return withUnsafeBytes(of: sin.sin_addr) { IPAddress(networkOrderBytes: $0) }
        case AF_INET6:
            let sin6 = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
            return withUnsafeBytes(of: sin6.sin6_addr) { IPAddress(networkOrderBytes: $0) }
        default:
            return nil
        }
    }

    /// A stable name for a `getaddrinfo` error.
    static func gaiCode(_ status: Int32) -> String {
        switch status {
        case EAI_NONAME: "EAI_NONAME"
        case EAI_AGAIN: "EAI_AGAIN"
        case EAI_FAIL: "EAI_FAIL"
        case EAI_FAMILY: "EAI_FAMILY"
        case EAI_MEMORY: "EAI_MEMORY"
        case EAI_SERVICE: "EAI_SERVICE"
        default: "EAI_\(status)"
        }
    }
}

/// A fixed table of names, for tests and for wiring that must not touch DNS. A name not in the
/// table fails with `EAI_NONAME`. Names are matched case-insensitively.
struct StaticHostResolver: HostResolving {
    let table: [String: [IPAddress]]

    init(_ table: [String: [IPAddress]]) {
        self.table = Dictionary(table.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    func addresses(of host: String) async -> Result<[IPAddress], HostResolutionFailure> {
        guard let found = table[host.lowercased()], !found.isEmpty else { return .failure(HostResolutionFailure(code: "EAI_NONAME")) }
        return .success(found)
    }
}

/// A continuation resumed exactly once, by whichever comes first: the work's answer or the
/// caller's cancellation. A value that arrives before the continuation is installed is kept and
/// handed over on installation.
final class ResumeOnce<Value: Sendable>: Sendable {
    private enum State {
        case waiting(CheckedContinuation<Value, Never>?)
        case early(Value)
        case done
    }

    private let state = Mutex<State>(.waiting(nil))

    func install(_ continuation: CheckedContinuation<Value, Never>) {
        let early: Value? = state.withLock { state in
            switch state {
            case .waiting:
                state = .waiting(continuation)
                return nil
            case .early(let value):
                state = .done
                return value
            case .done:
                return nil
            }
        }
        if let early { continuation.resume(returning: early) }
    }

    /// Resumes the continuation with `value` unless it was resumed already; later values are dropped.
    func resume(_ value: Value) {
        let waiting: CheckedContinuation<Value, Never>? = state.withLock { state in
            switch state {
            case .waiting(let continuation?):
                state = .done
                return continuation
            case .waiting(nil):
                state = .early(value)
                return nil
            case .early, .done:
                return nil
            }
        }
        waiting?.resume(returning: value)
    }
}
