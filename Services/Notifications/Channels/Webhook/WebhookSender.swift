import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceRuntime

/// One delivery to a tenant's endpoint, as the sender needs it. Its description shows neither the
/// secret, the body nor the URL.
struct WebhookMessage: Sendable, CustomStringConvertible, CustomReflectable {
    /// Sent as `webhook-id`, the same on every attempt of the delivery, so the endpoint can drop
    /// repeats (the Standard Webhooks idempotency key).
    var deliveryID: String
    /// The endpoint the tenant registered.
    var endpointURL: String
    /// The endpoint's `whsec_` secret.
    var secret: RedactedSecret
    /// The JSON payload, sent byte for byte as signed.
    var body: [UInt8]

    init(deliveryID: String, endpointURL: String, secret: RedactedSecret, body: [UInt8]) {
        self.deliveryID = deliveryID
        self.endpointURL = endpointURL
        self.secret = secret
        self.body = body
    }

    var description: String { "WebhookMessage(deliveryID: \(deliveryID), body: \(body.count) bytes)" }
    var customMirror: Mirror { Mirror(self, children: ["deliveryID": deliveryID, "bodyBytes": body.count]) }
}

/// How the webhook channel behaves.
struct WebhookSenderSettings: Sendable, Equatable {
    static let defaultTimeout: Duration = .seconds(15)

    /// The whole attempt: resolving the name, connecting, TLS, sending and reading the answer.
    var timeout: Duration
    /// Tests and the local acceptance run only: loopback endpoints, and plain `http` to them.
    var allowLoopbackHTTP: Bool
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    var maxRetryAfter: Duration

    init(timeout: Duration = defaultTimeout, allowLoopbackHTTP: Bool = false, maxRetryAfter: Duration = RetryAfter.defaultCap) {
        self.timeout = timeout
        self.allowLoopbackHTTP = allowLoopbackHTTP
        self.maxRetryAfter = maxRetryAfter
    }
}

/// Sends one signed POST to a tenant's endpoint and says how it went.
///
/// Guarantees:
/// - The request carries `webhook-id` (the delivery id), `webhook-timestamp` (unix seconds, taken
///   per attempt), `webhook-signature` (`StandardWebhookSignature`), `content-type:
///   application/json` and `user-agent: Tally-Notifications/1`; the body is exactly
///   `message.body`.
/// - SSRF: the URL rule and every resolved address are checked (`EndpointResolver`) before anything
///   is sent, and the connection goes to the checked address: the client's DNS override maps the
///   host to it, so TLS still verifies the certificate for the host name (and sends it as SNI) while
///   no second lookup can pick another address. Redirects are never followed.
/// - The attempt ends within `settings.timeout` in total, resolution included.
/// - It never throws. How it ends: 2xx → `delivered`; 410 → `endpointGone`; 429 and 503 →
///   `transient` with `retryAfter` from `Retry-After` (capped); 408 and other 5xx → `transient`
///   `http_NNN`; 3xx → `permanent` `redirect_refused`; other 4xx → `permanent` `http_NNN`; a
///   refused URL or address → `permanent` `url_refused:<rule>` / `address_refused:<class>`; DNS
///   failure → `transient` `dns_failed`; the deadline → `transient` `timeout`; anything else on the
///   wire → `transient` `connection_failed`; an unusable secret → `permanent` `secret_invalid`.
/// - Neither the result, the log nor any description holds the secret, the body or the URL; the
///   answer's body is read (at most 64 KiB) and dropped.
struct WebhookSender: Sendable {
    static let provider = "webhook"
    static let userAgent = "Tally-Notifications/1"
    /// How much of an answer is read before the connection is let go.
    static let maxAnswerBytes = 64 * 1024

    let settings: WebhookSenderSettings
    let resolver: EndpointResolver
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    let now: @Sendable () -> Date

    init(
        settings: WebhookSenderSettings = WebhookSenderSettings(), hostResolver: any HostResolving = SystemHostResolver(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "notifications.webhook"),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.settings = settings
        self.resolver = EndpointResolver(addressGuard: AddressGuard(allowLoopbackHTTP: settings.allowLoopbackHTTP), resolver: hostResolver)
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.now = now
    }

    func send(_ message: WebhookMessage) async -> AttemptResult {
        var logger = self.logger
        logger[metadataKey: "delivery_id"] = "\(message.deliveryID)"
        logger[metadataKey: "channel"] = "webhook"
        let result = await attempt(message)
        var metadata: Logger.Metadata = ["outcome": "\(result.outcome.rawValue)"]
        if let code = result.replyCode { metadata["reply_code"] = "\(code)" }
        if let reason = result.reason { metadata["reason"] = "\(reason)" }
        if result.outcome == .delivered {
            logger.info("webhook delivered", metadata: metadata)
        } else {
            if let detail = result.detail { metadata["detail"] = "\(detail)" }
            logger.warning("webhook not delivered", metadata: metadata)
        }
        return result
    }

    private func attempt(_ message: WebhookMessage) async -> AttemptResult {
        guard let key = WebhookSigningKey(secret: message.secret.value) else { return Self.permanent("secret_invalid") }
        guard Self.isHeaderSafe(message.deliveryID) else { return Self.permanent("delivery_id_invalid") }

        let started = ContinuousClock.now
        let resolver = self.resolver
        let url = message.endpointURL
        let timedOut: Result<ResolvedEndpoint, EndpointRefusal> = .failure(.timedOut)
        let resolution = await HTTPExchange.withDeadline(settings.timeout, orElse: timedOut) {
            await resolver.resolve(url)
        }
        let endpoint: ResolvedEndpoint
        switch resolution {
        case .success(let resolved): endpoint = resolved
        case .failure(let refusal): return Self.result(for: refusal)
        }

        let remaining = settings.timeout - (ContinuousClock.now - started)
        guard remaining > .zero else { return Self.transient("timeout") }
        let timestamp = Int64(now().timeIntervalSince1970.rounded(.down))
        let request = Self.request(for: message, to: endpoint, key: key, timestamp: timestamp)
        let outcome = await exchange(request, with: endpoint, within: remaining)
        return Self.interpret(outcome, now: now(), maxRetryAfter: settings.maxRetryAfter)
    }

    /// The signed POST of `message` to `endpoint`.
    static func request(for message: WebhookMessage, to endpoint: ResolvedEndpoint, key: WebhookSigningKey, timestamp: Int64) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: endpoint.url.text)
        request.method = .POST
        request.headers.add(name: "webhook-id", value: message.deliveryID)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature", value: key.signature(id: message.deliveryID, timestamp: timestamp, body: message.body))
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: userAgent)
        request.body = .bytes(message.body)
        return request
    }

    /// Runs `request` on a client of its own whose only DNS entry maps the endpoint's host to the
    /// checked address, then shuts that client down.
    private func exchange(_ request: HTTPClientRequest, with endpoint: ResolvedEndpoint, within deadline: Duration) async -> HTTPExchange.Outcome {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.proxy = nil
        configuration.dnsOverride = Self.dnsOverride(for: endpoint)
        // A fresh client per attempt: a refused connection should end the attempt, not wait for
        // the pool's back-off retries to run out the deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        let connectLimit = min(deadline, .seconds(10))
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .nanoseconds(HTTPExchange.nanoseconds(connectLimit)))
        let client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
        let outcome = await HTTPExchange.run(request, on: client, deadline: deadline, maxBodyBytes: Self.maxAnswerBytes)
        try? await client.shutdown()
        return outcome
    }

    /// The host, as the client reads it from the URL, mapped to the checked address (an IPv6
    /// literal under both its bracketed and bare spellings).
    static func dnsOverride(for endpoint: ResolvedEndpoint) -> [String: String] {
        let address = endpoint.address.description
        var overrides = [endpoint.url.host: address]
        if endpoint.url.literalAddress?.isIPv6 == true { overrides["[\(endpoint.url.host)]"] = address }
        return overrides
    }

    // MARK: Reading the outcome

    static func interpret(_ outcome: HTTPExchange.Outcome, now: Date, maxRetryAfter: Duration) -> AttemptResult {
        switch outcome {
        case .timedOut:
            return transient("timeout")
        case .failed(let reason, let detail):
            return AttemptResult(outcome: .transient, provider: provider, reason: reason, detail: detail)
        case .answered(let answer):
            let code = String(answer.status)
            switch answer.status {
            case 200..<300:
                return AttemptResult(outcome: .delivered, provider: provider, replyCode: code)
            case 410:
                return AttemptResult(outcome: .endpointGone, provider: provider, replyCode: code, reason: "http_410")
            case 429, 503:
                let retryAfter = answer.retryAfter.flatMap { RetryAfter.parse($0, now: now, cap: maxRetryAfter) }
                return AttemptResult(outcome: .transient, provider: provider, replyCode: code, reason: "http_\(code)", retryAfter: retryAfter)
            case 408, 500..<600:
                return AttemptResult(outcome: .transient, provider: provider, replyCode: code, reason: "http_\(code)")
            case 300..<400:
                return AttemptResult(outcome: .permanent, provider: provider, replyCode: code, reason: "redirect_refused")
            case 400..<500:
                return AttemptResult(outcome: .permanent, provider: provider, replyCode: code, reason: "http_\(code)")
            default:
                return AttemptResult(outcome: .transient, provider: provider, replyCode: code, reason: "http_\(code)")
            }
        }
    }

    static func result(for refusal: EndpointRefusal) -> AttemptResult {
        var detail: String?
        if case .resolutionFailed(let code) = refusal { detail = code }
        return AttemptResult(outcome: refusal.isTransient ? .transient : .permanent, provider: provider, reason: refusal.reason, detail: detail)
    }

    static func permanent(_ reason: String) -> AttemptResult {
        AttemptResult(outcome: .permanent, provider: provider, reason: reason)
    }

    static func transient(_ reason: String) -> AttemptResult {
        AttemptResult(outcome: .transient, provider: provider, reason: reason)
    }

    /// Printable ASCII, 1 to 256 characters: safe as a header value and in the signed content.
    static func isHeaderSafe(_ value: String) -> Bool {
        (1...256).contains(value.utf8.count) && value.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }
}
