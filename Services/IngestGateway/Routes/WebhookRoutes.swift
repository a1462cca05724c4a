import Contracts
import Foundation
import Hummingbird
import Logging
import Metrics
import ServiceRuntime
import Storage
import WebhookSignatures

/// `POST /webhooks/{sourceID}`: where every provider's webhook enters Tally.
///
/// A 2xx answer means the exact bytes are committed to the inbox together with their raw-webhook
/// event; a refusal names its reason in a Problem+JSON `type` (never which secret was tried),
/// and is recorded with metadata only.
struct WebhookRoutes: Sendable {
    let sources: SourceStore
    let inbox: WebhookInboxStore
    /// Where accepted webhooks are written: concurrent requests share a commit.
    let intake: IntakeBatcher
    let maxBodySize: Int
    /// Per-source request rate (429 with `Retry-After` beyond it).
    let rateLimiter: RateLimiter
    /// Limits how fast refusals are written to the database, so a flood of bad requests cannot
    /// fill it; refusals beyond the limit are still counted in metrics and logged.
    let refusalLogLimiter: RateLimiter
    let metrics = WebhookMetrics()
    let logger: Logger

    init(
        sources: SourceStore, inbox: WebhookInboxStore, maxBodySize: Int, logger: Logger,
        rateLimiter: RateLimiter = RateLimiter(ratePerSecond: 500, burst: 1_000),
        refusalLogLimiter: RateLimiter = RateLimiter(ratePerSecond: 20, burst: 100)
    ) {
        self.sources = sources
        self.inbox = inbox
        self.intake = IntakeBatcher(store: inbox, logger: logger)
        self.maxBodySize = maxBodySize
        self.rateLimiter = rateLimiter
        self.refusalLogLimiter = refusalLogLimiter
        self.logger = logger
    }

    /// A refusal: HTTP status, stable problem type and the detail shown to the sender.
    struct Refusal: Error {
        let status: HTTPResponse.Status
        let reason: String
        let detail: String
        var retryAfter: Int? = nil
    }

    func add(to router: Router<ServiceRequestContext>) {
        router.post("webhooks/:sourceID") { request, context in
            try await receive(request, context: context)
        }
    }

    func receive(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let sourceID = context.parameters.get("sourceID") ?? ""
        let started = ContinuousClock.now
        var body: [UInt8] = []
        var source: Source?
        do {
            if let wait = rateLimiter.acquire(sourceID) {
                throw Refusal(status: .tooManyRequests, reason: "rate-limited", detail: "this source sends faster than its limit; retry after \(wait) s", retryAfter: wait)
            }
            var request = request
            do {
                body = Array(buffer: try await request.collectBody(upTo: maxBodySize))
            } catch {
                throw Refusal(status: .contentTooLarge, reason: "oversize-body", detail: "the body is larger than \(maxBodySize) bytes")
            }
            let contentType = request.headers[.contentType] ?? ""
            guard Self.isJSON(contentType) else {
                throw Refusal(status: .unsupportedMediaType, reason: "bad-content-type", detail: "webhooks must be sent as application/json")
            }
            guard let (found, secrets) = try await sources.lookup(sourceID) else {
                throw Refusal(status: .notFound, reason: "unknown-source", detail: "no webhook source has this id")
            }
            source = found
            guard found.status == .active else {
                throw Refusal(status: .unauthorized, reason: "source-disabled", detail: "this source does not accept webhooks")
            }
            let webhookRequest = WebhookRequest(headers: Self.headerMap(request.headers), body: body)
            do {
                _ = try found.provider.verifier(tolerance: .seconds(Int64(found.toleranceSeconds))).verify(webhookRequest, secrets: secrets, now: Date())
            } catch {
                let status: HTTPResponse.Status =
                    switch error {
                    case .missingHeader, .malformedHeader: .badRequest
                    default: .unauthorized
                    }
                throw Refusal(status: status, reason: error.code, detail: error.description)
            }
            guard let identity = ProviderEventIdentity(provider: found.provider, request: webhookRequest) else {
                throw Refusal(status: .badRequest, reason: "malformed-body", detail: "the body is not a \(found.provider.rawValue) event this gateway can identify")
            }
            let outcome = try await intake.accept(
                IncomingWebhook(
                    source: found, providerEventID: identity.id, providerEventType: identity.type,
                    trust: found.provider.provesOrigin ? .verified : .low, contentType: contentType, body: body,
                    verificationHeaders: Self.verificationHeaders(of: webhookRequest, provider: found.provider), receivedAt: Date()
                ))
            metrics.accepted(provider: found.provider.rawValue, duplicate: outcome != .accepted(inboxID: outcome.inboxID)).increment()
            metrics.acceptedDuration.recordNanoseconds((ContinuousClock.now - started).totalNanoseconds)
            return Self.accepted(outcome)
        } catch let refusal as Refusal {
            metrics.refused(provider: source?.provider.rawValue ?? "unknown", reason: refusal.reason).increment()
            metrics.refusedDuration.recordNanoseconds((ContinuousClock.now - started).totalNanoseconds)
            context.logger.notice("webhook refused", metadata: ["source_id": "\(sourceID)", "reason": "\(refusal.reason)", "size": "\(body.count)"])
            if refusalLogLimiter.acquire(source?.orgID ?? "unknown") == nil {
                await inbox.recordRefusal(
                    sourceID: sourceID, orgID: source?.orgID, reason: refusal.reason, status: Int(refusal.status.code), body: body, remoteAddress: context.remoteAddress)
            } else {
                Counter(label: "gateway_refusals_not_logged_total").increment()
            }
            var response = Problem(type: "webhook/\(refusal.reason)", title: "Webhook refused", status: refusal.status, detail: refusal.detail).response
            if let wait = refusal.retryAfter { response.headers[.retryAfter] = String(wait) }
            return response
        }
    }

    static func accepted(_ outcome: AcceptOutcome) -> Response {
        let duplicate: Bool
        if case .duplicate = outcome { duplicate = true } else { duplicate = false }
        let body = #"{"duplicate":\#(duplicate),"inbox_id":"\#(outcome.inboxID.uuidString.lowercased())"}"#
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func isJSON(_ contentType: String) -> Bool {
        let media = contentType.split(separator: ";").first.map { $0.trimmingSpaces.lowercased() } ?? ""
        return media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json"))
    }

    static func headerMap(_ fields: HTTPFields) -> [String: String] {
        var map: [String: String] = [:]
        for field in fields { map[field.name.canonicalName] = field.value }
        return map
    }

    /// The headers kept for re-verification: signature material only, never a shared token.
    static func verificationHeaders(of request: WebhookRequest, provider: WebhookProvider) -> [String: String] {
        let names: [String] =
            switch provider {
            case .stripe: ["stripe-signature"]
            case .paddle: ["paddle-signature"]
            case .hotmart: []
            case .standard, .internal: ["webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp", "svix-signature"]
            }
        var kept: [String: String] = [:]
        for name in names { if let value = request.header(name) { kept[name] = value } }
        return kept
    }
}

/// The provider's own id and type of a webhook, read from where each provider puts them.
struct ProviderEventIdentity: Equatable {
    let id: String
    let type: String

    init?(provider: WebhookProvider, request: WebhookRequest) {
        guard let fields = try? JSONDecoder().decode(IdentityFields.self, from: Data(request.body)) else { return nil }
        func text(_ field: IdentityFields.Text?) -> String? {
            guard let value = field?.value, !value.isEmpty else { return nil }
            return value
        }
        switch provider {
        case .stripe:
            guard let id = text(fields.id), let type = text(fields.type) else { return nil }
            (self.id, self.type) = (id, type)
        case .paddle:
            guard let id = text(fields.event_id), let type = text(fields.event_type) else { return nil }
            (self.id, self.type) = (id, type)
        case .hotmart:
            guard let id = text(fields.id), let type = text(fields.event) else { return nil }
            (self.id, self.type) = (id, type)
        case .standard, .internal:
            guard let id = request.header("webhook-id") ?? request.header("svix-id") ?? text(fields.id) else { return nil }
            (self.id, self.type) = (id, text(fields.type) ?? "unknown")
        }
    }
}

/// The top-level members that identify an event, whichever provider sent it; the body must be a
/// JSON object. A member may be a string or an integer (written as its decimal text). Any other
/// number counts as missing: read as floating point, two different large ids could become the
/// same text, and the second event would be taken for a duplicate of the first.
private struct IdentityFields: Decodable {
    struct Text: Decodable {
        let value: String
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                value = text
            } else if let integer = try? container.decode(Int64.self) {
                value = String(integer)
            } else if let integer = try? container.decode(UInt64.self) {
                value = String(integer)
            } else {
                value = ""
            }
        }
    }

    let id: Text?
    let type: Text?
    let event_id: Text?
    let event_type: Text?
    let event: Text?
}
