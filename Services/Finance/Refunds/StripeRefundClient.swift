import AsyncHTTPClient
import Contracts
import Foundation
import Logging
import ServiceRuntime

/// Submits refunds to Stripe's Refunds API: `POST {baseURL}/v1/refunds`.
///
/// Guarantees:
/// - The refund id is Stripe's `Idempotency-Key`, so a retry of the same request (after a timeout,
///   a 409, a 429 or a 5xx) within Stripe's 24-hour idempotency window never refunds twice.
/// - One submission gives up after `timeout` in total (connecting, sending and reading the whole
///   answer): the exchange is cancelled and `RefundSubmissionFailure` thrown.
/// - The secret key is sent only in the `Authorization` header. No result, thrown failure, log line,
///   description or mirror of this client holds it: everything read back from Stripe is scrubbed.
/// - The reason is sent to Stripe as `metadata[reason]` but never logged.
///
/// How answers are read:
/// - 2xx with a refund object: `failed` or `canceled` → `.refused(reason: failure_reason or status)`,
///   any other status → `.submitted(providerRefundID: id)`; an unreadable 2xx body throws (retrying
///   with the same idempotency key gets Stripe's stored answer).
/// - 409 and 429 throw `RefundSubmissionFailure`; any other 4xx → `.refused(reason: "<code>: <message>")`
///   from Stripe's error JSON.
/// - 5xx, any other status, transport errors and the deadline throw `RefundSubmissionFailure`.
struct StripeRefundClient: ProviderRefundClient, CustomStringConvertible, CustomReflectable {
    static let defaultBaseURL = RefundClientSettings.defaultStripeBaseURL
    static let defaultTimeout: Duration = .seconds(RefundClientSettings.defaultTimeoutSeconds)
    /// The largest answer read; a refund object or an error is a few KiB.
    static let maxResponseBytes = 1 << 20
    /// The longest text taken from an answer into a reason or failure.
    static let maxQuotedCharacters = 500

    /// Stripe's API base URL, without a trailing slash.
    let baseURL: String
    let httpClient: HTTPClient
    let timeout: Duration
    let logger: Logger
    private let secretKey: RedactedSecret

    /// A client for the Stripe account of `secretKey`. The caller owns `httpClient` (and shuts it
    /// down); `timeout` bounds each submission as a whole.
    init(
        baseURL: String = defaultBaseURL, secretKey: String, httpClient: HTTPClient, timeout: Duration = defaultTimeout,
        logger: Logger = Logger(label: "finance.refunds")
    ) {
        self.baseURL = RefundClientSettings.trimmingTrailingSlashes(baseURL)
        self.secretKey = RedactedSecret(secretKey)
        self.httpClient = httpClient
        self.timeout = timeout
        self.logger = logger
    }

    var description: String { "StripeRefundClient(baseURL: \(baseURL), secretKey: [redacted], timeout: \(timeout))" }
    var customMirror: Mirror { Mirror(self, children: ["baseURL": baseURL, "timeout": timeout]) }

    func submit(_ request: ProviderRefundRequest) async throws(RefundSubmissionFailure) -> ProviderRefundResult {
        guard request.provider == .stripe else {
            return .refused(reason: "a \(request.provider.rawValue) payment cannot be refunded through Stripe")
        }
        guard request.amount.amountMinor > 0 else {
            return .refused(reason: "the refund amount must be positive, got \(request.amount.amountMinor) minor units")
        }
        guard !request.paymentID.isEmpty, !request.refundID.isEmpty else {
            return .refused(reason: "a refund needs a payment id and a refund id")
        }

        var logger = self.logger
        logger[metadataKey: "refund_id"] = "\(request.refundID)"
        logger[metadataKey: "request_id"] = "\(request.requestID)"
        logger[metadataKey: "provider"] = "stripe"
        logger[metadataKey: "payment_id"] = "\(request.paymentID)"

        let attempt = await send(httpRequest(for: request))
        do throws(RefundSubmissionFailure) {
            let result = try interpret(attempt)
            switch result {
            case .submitted(let providerRefundID):
                logger.info("refund submitted to Stripe", metadata: ["provider_refund_id": "\(providerRefundID)"])
            case .refused(let reason):
                logger.warning("Stripe refused the refund", metadata: ["refusal": "\(reason)"])
            case .offline:
                break
            }
            return result
        } catch {
            logger.warning("refund submission to Stripe failed, worth retrying", metadata: ["error": "\(error.description)"])
            throw error
        }
    }

    // MARK: Request

    /// The form-encoded `POST /v1/refunds` for `request`.
    func httpRequest(for request: ProviderRefundRequest) -> HTTPClientRequest {
        var http = HTTPClientRequest(url: baseURL + "/v1/refunds")
        http.method = .POST
        http.headers.add(name: "Authorization", value: "Bearer \(secretKey.value)")
        http.headers.add(name: "Idempotency-Key", value: request.refundID)
        http.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        http.headers.add(name: "Accept", value: "application/json")
        let form = FormURLEncoding.encode([
            ("payment_intent", request.paymentID),
            ("amount", String(request.amount.amountMinor)),
            ("metadata[tally_refund_id]", request.refundID),
            ("metadata[reason]", request.reason),
        ])
        http.body = .bytes(Array(form.utf8))
        return http
    }

    // MARK: Sending, under one deadline

    /// What one exchange came to, before it is interpreted.
    enum Attempt: Sendable, Equatable {
        case answered(status: Int, body: [UInt8])
        case failed(String)
        case timedOut
    }

    /// Sends `request` and reads the whole answer, racing the deadline: whichever finishes first
    /// wins and the other is cancelled.
    private func send(_ request: HTTPClientRequest) async -> Attempt {
        let client = httpClient
        let deadline = self.timeout
        // AsyncHTTPClient's own deadline covers the exchange up to the response head; the race
        // below also covers reading the body.
        let clientTimeout = Self.nanoseconds(deadline)
        let maxBytes = Self.maxResponseBytes
        return await withTaskGroup(of: Attempt.self) { group in
            group.addTask {
                do {
                    let response = try await client.execute(request, timeout: .nanoseconds(clientTimeout))
                    let body = try await response.body.collect(upTo: maxBytes)
                    return .answered(status: Int(response.status.code), body: Array(body.readableBytesView))
                } catch let error as HTTPClientError where error == .deadlineExceeded {
                    return .timedOut
                } catch {
                    return .failed(String(describing: error))
                }
            }
            group.addTask {
                try? await Task.sleep(for: deadline)
                return .timedOut
            }
            let first = await group.next() ?? .timedOut
            group.cancelAll()
            return first
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let clamped = min(max(seconds, 0), 86_400)
        return clamped * 1_000_000_000 + max(attoseconds, 0) / 1_000_000_000
    }

    // MARK: Reading the answer

    /// Stripe's answer to `POST /v1/refunds`, read as the type documentation describes.
    func interpret(_ attempt: Attempt) throws(RefundSubmissionFailure) -> ProviderRefundResult {
        switch attempt {
        case .timedOut:
            throw failure("Stripe did not answer within \(timeout)")
        case .failed(let transport):
            throw failure("the request to Stripe failed: \(transport)")
        case .answered(let status, let body):
            switch status {
            case 200..<300:
                guard let refund = try? JSONDecoder().decode(StripeRefund.self, from: Data(body)), !refund.id.isEmpty else {
                    throw failure("Stripe answered HTTP \(status) without a readable refund object")
                }
                if let status = refund.status, status == "failed" || status == "canceled" {
                    let reason = refund.failureReason.flatMap { $0.isEmpty ? nil : $0 } ?? status
                    return .refused(reason: quoted(reason))
                }
                return .submitted(providerRefundID: refund.id)
            case 409, 429:
                throw failure("Stripe answered HTTP \(status) (\(Self.errorSummary(body, status: status))); retry later")
            case 400..<500:
                return .refused(reason: quoted(Self.errorSummary(body, status: status)))
            default:
                throw failure("Stripe answered HTTP \(status) (\(Self.errorSummary(body, status: status)))")
            }
        }
    }

    /// `"<code>: <message>"` from Stripe's error JSON (the error's type when it has no code),
    /// or the status alone when the body is not Stripe's error JSON.
    static func errorSummary(_ body: [UInt8], status: Int) -> String {
        guard let envelope = try? JSONDecoder().decode(StripeErrorEnvelope.self, from: Data(body)) else {
            return "http_\(status): the answer was not Stripe's error JSON"
        }
        let error = envelope.error
        let code = error.code ?? error.type ?? "http_\(status)"
        return "\(code): \(error.message ?? "no message")"
    }

    private func failure(_ text: String) -> RefundSubmissionFailure {
        RefundSubmissionFailure(description: quoted(text))
    }

    /// `text` without the secret key, cut to `maxQuotedCharacters`.
    private func quoted(_ text: String) -> String {
        let scrubbed = secretKey.scrub(text)
        guard scrubbed.count > Self.maxQuotedCharacters else { return scrubbed }
        return String(scrubbed.prefix(Self.maxQuotedCharacters)) + "…"
    }
}

/// The fields of Stripe's refund object that finance reads.
struct StripeRefund: Decodable, Sendable {
    var id: String
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    var status: String?
    var failureReason: String?

    enum CodingKeys: String, CodingKey {
        case id, status
        case failureReason = "failure_reason"
    }
}

/// Stripe's error answer: `{"error": {"type", "code", "message", …}}`.
struct StripeErrorEnvelope: Decodable, Sendable {
    struct Body: Decodable, Sendable {
        var type: String?
        var code: String?
        var message: String?
    }

    var error: Body
}

/// `application/x-www-form-urlencoded` bodies: names and values percent-encoded as UTF-8, leaving
/// only ASCII letters, digits and `-._~` as they are (so `[`, `]`, `&`, `=`, `+` and spaces are
/// all encoded, and any form decoder reads back exactly the original text).
enum FormURLEncoding {
    static func encode(_ fields: [(name: String, value: String)]) -> String {
        fields.map { escape($0.name) + "=" + escape($0.value) }.joined(separator: "&")
    }

    static func escape(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".unicodeScalars)
        var escaped = String.UnicodeScalarView()
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                escaped.append(Unicode.Scalar(byte))
            default:
                escaped.append("%")
                escaped.append(hex[Int(byte >> 4)])
                escaped.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(escaped)
    }
}
