import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceRuntime

/// Sends WhatsApp messages through Meta's Cloud API: `POST {baseURL}/{apiVersion}/{phoneNumberID}/messages`
/// with `Authorization: Bearer {token}` and the message as JSON.
///
/// Guarantees:
/// - `to` is checked first: a number that is not E.164 (`+[1-9][0-9]{7,14}`) ends `permanent`
///   `invalid_phone` and nothing is sent, in either mode. It is sent as its digits, which Meta
///   reads as the international number.
/// - Without a token the client is offline: nothing is sent, the result is `deliveredOffline` from
///   `whatsapp:offline`, and one log line says `mode=mock` (with the delivery id and the kind of
///   message, never the number or the text). The caller stores the message.
/// - Live, the result comes from `whatsapp:cloud` and the send ends within `settings.timeout`:
///   2xx → `delivered` with Meta's message id (`wamid.…`) as `detail`; 429, 408 and 5xx →
///   `transient` `http_NNN` (with `retryAfter` when Meta sends `Retry-After`); other 4xx →
///   `permanent` `http_NNN` with `meta_error_code=<error.code>` in `detail`, except Meta's
///   throttling and "temporarily unavailable" codes, which are `transient`; the deadline →
///   `transient` `timeout`; a name that does not resolve → `transient` `dns_failed`; anything else
///   on the wire → `transient` `connection_failed`.
/// - A 2xx without a readable message id still counts as `delivered` (Meta took the message;
///   sending it again could deliver it twice), with reason `message_id_missing`.
/// - The token is sent only in the `Authorization` header; no result, log line, description or
///   mirror holds it, and nothing from Meta's error text (which may quote the number) is kept.
struct WhatsAppClient: Sendable, CustomStringConvertible, CustomReflectable {
    static let liveProvider = "whatsapp:cloud"
    static let offlineProvider = "whatsapp:offline"
    /// The longest text message Meta takes.
    static let maxTextCharacters = 4096
    /// Meta's answers are small; more than this is not read.
    static let maxAnswerBytes = 64 * 1024
    /// Meta error codes that mean "later", whatever the HTTP status: rate limits (4, 17, 341, 80007,
    /// 130429, 131056), temporary API trouble (1, 2) and a service that is unavailable (131016, 133004).
    static let transientMetaCodes: Set<Int> = [1, 2, 4, 17, 341, 80007, 130429, 131016, 131056, 133004]

    let settings: WhatsAppSettings
    /// Owned by the caller, who shuts it down.
    let httpClient: HTTPClient
    let logger: Logger
    let now: @Sendable () -> Date

    init(settings: WhatsAppSettings, httpClient: HTTPClient, logger: Logger = Logger(label: "notifications.whatsapp"), now: @escaping @Sendable () -> Date = { Date() }) {
        self.settings = settings
        self.httpClient = httpClient
        self.logger = logger
        self.now = now
    }

    var description: String { "WhatsAppClient(\(settings))" }
    var customMirror: Mirror { Mirror(self, children: ["settings": settings.description]) }

    /// The provider this client's results name.
    var provider: String { settings.isLive ? liveProvider : Self.offlineProvider }

    /// `whatsapp:{account}`: `whatsapp:cloud` for the first account.
    var liveProvider: String { "whatsapp:\(settings.name)" }

    func send(_ message: WhatsAppMessage, deliveryID: String) async -> AttemptResult {
        var logger = self.logger
        logger[metadataKey: "delivery_id"] = "\(deliveryID)"
        logger[metadataKey: "channel"] = "whatsapp"
        logger[metadataKey: "message_type"] = "\(Self.kind(of: message.content))"
        if case .template(let name, _, _) = message.content { logger[metadataKey: "template"] = "\(name)" }

        guard let digits = E164.digits(of: message.to) else { return Self.permanent("invalid_phone", provider: provider) }
        if let problem = Self.contentProblem(message.content) { return Self.permanent(problem, provider: provider) }

        guard let token = settings.token else {
            logger.notice("WhatsApp offline (mode=mock): message stored, not sent", metadata: ["mode": "mock"])
            return AttemptResult(outcome: .deliveredOffline, provider: Self.offlineProvider)
        }
        guard WhatsAppSettings.isPhoneNumberID(settings.phoneNumberID), WhatsAppSettings.isAPIVersion(settings.apiVersion) else {
            return Self.permanent("whatsapp_misconfigured", provider: liveProvider)
        }
        guard let body = Self.body(for: message.content, to: digits) else {
            return Self.permanent("encoding_failed", provider: liveProvider)
        }

        var request = HTTPClientRequest(url: messagesURL)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token.value)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(body)

        let outcome = await HTTPExchange.run(request, on: httpClient, deadline: settings.timeout, maxBodyBytes: Self.maxAnswerBytes)
        let result = Self.interpret(outcome, now: now(), provider: liveProvider)
        var metadata: Logger.Metadata = ["outcome": "\(result.outcome.rawValue)"]
        if let code = result.replyCode { metadata["reply_code"] = "\(code)" }
        if let reason = result.reason { metadata["reason"] = "\(reason)" }
        if let detail = result.detail { metadata["detail"] = "\(token.scrub(detail))" }
        if result.outcome == .delivered {
            logger.info("WhatsApp message accepted", metadata: metadata)
        } else {
            logger.warning("WhatsApp message not accepted", metadata: metadata)
        }
        return result
    }

    /// `{baseURL}/{apiVersion}/{phoneNumberID}/messages`.
    var messagesURL: String { "\(settings.baseURL)/\(settings.apiVersion)/\(settings.phoneNumberID)/messages" }

    // MARK: The request body

    /// The Cloud API's message JSON, keys sorted (so the bytes are stable), or nil if it cannot be
    /// encoded.
    static func body(for content: WhatsAppMessage.Content, to digits: String) -> [UInt8]? {
        let payload: CloudAPIMessage
        switch content {
        case .text(let text):
            payload = CloudAPIMessage(to: digits, type: "text", text: CloudAPIMessage.Text(body: text, previewURL: false), template: nil)
        case .template(let name, let language, let parameters):
            let values = parameters.map { CloudAPIMessage.Parameter(type: "text", text: $0) }
            let components: [CloudAPIMessage.Component]? = values.isEmpty ? nil : [CloudAPIMessage.Component(type: "body", parameters: values)]
            let template = CloudAPIMessage.Template(name: name, language: CloudAPIMessage.Language(code: language), components: components)
            payload = CloudAPIMessage(to: digits, type: "template", text: nil, template: template)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(payload)).map { Array($0) }
    }

    /// Why Meta could never take this content, or nil.
    static func contentProblem(_ content: WhatsAppMessage.Content) -> String? {
        switch content {
        case .text(let text):
            if text.isEmpty { return "text_empty" }
            if text.count > maxTextCharacters { return "text_too_long" }
        case .template(let name, let language, _):
            if name.isEmpty || language.isEmpty { return "template_incomplete" }
        }
        return nil
    }

    static func kind(of content: WhatsAppMessage.Content) -> String {
        switch content {
        case .text: "text"
        case .template: "template"
        }
    }

    // MARK: Reading the answer

    static func interpret(_ outcome: HTTPExchange.Outcome, now: Date, provider: String = liveProvider) -> AttemptResult {
        switch outcome {
        case .timedOut:
            return AttemptResult(outcome: .transient, provider: provider, reason: "timeout")
        case .failed(let reason, let detail):
            return AttemptResult(outcome: .transient, provider: provider, reason: reason, detail: detail)
        case .answered(let answer):
            let code = String(answer.status)
            let retryAfter = answer.retryAfter.flatMap { RetryAfter.parse($0, now: now) }
            switch answer.status {
            case 200..<300:
                guard let id = messageID(in: answer.body) else {
                    return AttemptResult(outcome: .delivered, provider: provider, replyCode: code, reason: "message_id_missing")
                }
                return AttemptResult(outcome: .delivered, provider: provider, replyCode: code, detail: id)
            case 408, 429, 500..<600:
                return AttemptResult(
                    outcome: .transient, provider: provider, replyCode: code, reason: "http_\(code)", detail: errorDetail(answer.body), retryAfter: retryAfter)
            case 400..<500:
                let metaCode = metaError(in: answer.body)?.code?.value
                let later = metaCode.map { transientMetaCodes.contains($0) } ?? false
                return AttemptResult(
                    outcome: later ? .transient : .permanent, provider: provider, replyCode: code, reason: "http_\(code)",
                    detail: errorDetail(answer.body), retryAfter: later ? retryAfter : nil)
            default:
                return AttemptResult(outcome: .transient, provider: provider, replyCode: code, reason: "http_\(code)", detail: errorDetail(answer.body))
            }
        }
    }

    /// `messages[0].id` of a send answer, when it is a plausible id (printable ASCII, 1–256 long).
    static func messageID(in body: [UInt8]) -> String? {
        guard let answer = try? JSONDecoder().decode(CloudAPISendAnswer.self, from: Data(body)),
            let id = answer.messages?.first?.id, (1...256).contains(id.utf8.count), id.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else { return nil }
        return id
    }

    static func metaError(in body: [UInt8]) -> CloudAPIErrorAnswer.Body? {
        (try? JSONDecoder().decode(CloudAPIErrorAnswer.self, from: Data(body)))?.error
    }

    /// `meta_error_code=<code>` (and the subcode and trace id when present) from Meta's error JSON;
    /// nil when the body is not that JSON. Meta's message text is left out: it can quote the number.
    static func errorDetail(_ body: [UInt8]) -> String? {
        guard let error = metaError(in: body), let code = error.code?.value else { return nil }
        var detail = "meta_error_code=\(code)"
        if let subcode = error.errorSubcode?.value { detail += " subcode=\(subcode)" }
        if let trace = error.fbtraceID, (1...64).contains(trace.utf8.count), trace.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
            detail += " fbtrace_id=\(trace)"
        }
        return detail
    }

    static func permanent(_ reason: String, provider: String) -> AttemptResult {
        AttemptResult(outcome: .permanent, provider: provider, reason: reason)
    }
}

// MARK: Cloud API JSON

/// The body of `POST /{phone-number-id}/messages` for a text or template message.
struct CloudAPIMessage: Encodable, Sendable {
    struct Text: Encodable, Sendable {
        var body: String
        var previewURL: Bool

        enum CodingKeys: String, CodingKey {
            case body, previewURL = "preview_url"
        }
    }

    struct Template: Encodable, Sendable {
        var name: String
        var language: Language
        /// Nil (left out) for a template without variables.
        var components: [Component]?
    }

    struct Language: Encodable, Sendable {
        var code: String
    }

    struct Component: Encodable, Sendable {
        var type: String
        var parameters: [Parameter]
    }

    struct Parameter: Encodable, Sendable {
        var type: String
        var text: String
    }

    var messagingProduct = "whatsapp"
    var recipientType = "individual"
    var to: String
    var type: String
    var text: Text?
    var template: Template?

    init(to: String, type: String, text: Text?, template: Template?) {
        self.to = to
        self.type = type
        self.text = text
        self.template = template
    }

    enum CodingKeys: String, CodingKey {
        case messagingProduct = "messaging_product", recipientType = "recipient_type", to, type, text, template
    }
}

/// The part of a send answer the client reads: `{"messages": [{"id": "wamid.…"}], …}`.
struct CloudAPISendAnswer: Decodable, Sendable {
    struct Message: Decodable, Sendable {
        var id: String?
    }

    var messages: [Message]?
}

/// Graph API errors: `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id", …}}`.
struct CloudAPIErrorAnswer: Decodable, Sendable {
    struct Body: Decodable, Sendable {
        var code: LenientInteger?
        var errorSubcode: LenientInteger?
        var fbtraceID: String?

        enum CodingKeys: String, CodingKey {
            case code, errorSubcode = "error_subcode", fbtraceID = "fbtrace_id"
        }
    }

    var error: Body
}

/// A number Meta (or a proxy in front of it) may send as `131030` or `"131030"`.
struct LenientInteger: Decodable, Sendable, Equatable {
    var value: Int

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            value = number
        } else if let number = Int(try container.decode(String.self)) {
            value = number
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an integer")
        }
    }
}
