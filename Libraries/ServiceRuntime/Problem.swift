import Foundation
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import Storage

/// An RFC 9457 problem: the body of every error response, `application/problem+json`.
/// `type` is a stable URI per kind of problem; clients branch on it, not on `detail`.
public struct Problem: Error, Codable, Sendable, Equatable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    public var instance: String?
    /// Extra members, e.g. the failing readiness checks.
    public var extensions: [String: String]?

    public init(type: String, title: String, status: HTTPResponse.Status, detail: String? = nil, instance: String? = nil, extensions: [String: String]? = nil) {
        self.type = type.hasPrefix("https://") || type == "about:blank" ? type : "https://tally.dev/problems/\(type)"
        self.title = title
        self.status = status.code
        self.detail = detail
        self.instance = instance
        self.extensions = extensions
    }

    public static func notFound(_ detail: String) -> Problem { Problem(type: "not-found", title: "Not found", status: .notFound, detail: detail) }
    public static func unauthorized(_ detail: String) -> Problem { Problem(type: "unauthorized", title: "Authentication required", status: .unauthorized, detail: detail) }
    public static func forbidden(_ detail: String) -> Problem { Problem(type: "forbidden", title: "Not allowed", status: .forbidden, detail: detail) }
    public static func badRequest(_ detail: String) -> Problem { Problem(type: "bad-request", title: "Bad request", status: .badRequest, detail: detail) }

    /// The HTTP response carrying this problem; a `retry_after` extension (whole seconds) is also
    /// sent as the `Retry-After` header.
    public var response: Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(self)) ?? Data(#"{"status":500,"title":"Internal error","type":"about:blank"}"#.utf8)
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if let seconds = extensions?["retry_after"], let value = Int(seconds), value >= 0 { headers[.retryAfter] = String(value) }
        return Response(status: HTTPResponse.Status(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Turns every error a handler throws into Problem+JSON. A database that is unreachable or
/// restarting gives 503 with `Retry-After`; unknown errors become a 500 whose detail does not
/// leak internals; both are logged with the request's correlation id.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return Self.response(for: error, logger: context.logger)
        }
    }

    static func response(for error: any Error, logger: Logger) -> Response {
        switch error {
        case let problem as Problem:
            return problem.response
        case let wrapped as PostgresTransactionError where wrapped.closureError != nil:
            // A problem thrown inside a transaction is still that problem.
            return response(for: wrapped.closureError!, logger: logger)
        case let error as HTTPError:
            let problem = Problem(
                type: error.status == .notFound ? "not-found" : "http-\(error.status.code)",
                title: error.status.reasonPhrase, status: error.status, detail: error.body)
            return problem.response
        case is NIOTooManyBytesError:
            // Hummingbird collects a request body up to its limit and throws this beyond it.
            return Problem(
                type: "payload-too-large", title: "Payload too large", status: .contentTooLarge,
                detail: "the request body is larger than this endpoint accepts"
            ).response
        case _ where TransientFailure.isTransient(error):
            // The database is restarting or unreachable: trying again shortly will work, and is
            // safe (writes are idempotent). Senders (webhook providers among them) retry on 503.
            logger.warning("request failed: database unavailable", metadata: ["error": "\(String(reflecting: error))"])
            var response = Problem(
                type: "unavailable", title: "Service unavailable", status: .serviceUnavailable,
                detail: "the database is unavailable; retry shortly"
            ).response
            response.headers[.retryAfter] = "2"
            return response
        default:
            logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return Problem(
                type: "internal", title: "Internal error", status: .internalServerError,
                detail: "the request failed; the error was logged"
            ).response
        }
    }
}
