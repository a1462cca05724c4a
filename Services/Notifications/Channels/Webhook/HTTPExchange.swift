import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP request and its answer under one deadline, as the HTTP channels (webhooks, WhatsApp)
/// need it: never throws, and says what happened in the words the attempt log uses.
enum HTTPExchange {
    /// What an endpoint answered: the parts the channels read. `body` holds at most the bytes
    /// asked for.
    struct Answer: Sendable, Equatable {
        var status: Int
        /// The `Retry-After` header, as sent.
        var retryAfter: String?
        var body: [UInt8]

        init(status: Int, retryAfter: String? = nil, body: [UInt8] = []) {
            self.status = status
            self.retryAfter = retryAfter
            self.body = body
        }
    }

    /// How one exchange ended.
    enum Outcome: Sendable, Equatable {
        case answered(Answer)
        /// The deadline passed before the whole answer was read.
        case timedOut
        /// Nothing usable came back. `reason` is `connection_failed`, `dns_failed` or `cancelled`;
        /// `detail` names the error's type (and errno), never a host, a URL or a header.
        case failed(reason: String, detail: String)
    }

    /// Sends `request` with `client` and reads at most `maxBodyBytes` of the answer (the rest is
    /// left unread), all within `deadline`: the client's own deadline and a timer race it, and
    /// whichever ends first wins.
    static func run(_ request: HTTPClientRequest, on client: HTTPClient, deadline: Duration, maxBodyBytes: Int) async -> Outcome {
        let budget = Self.nanoseconds(deadline)
        return await withDeadline(deadline, orElse: Outcome.timedOut) {
            do {
                let response = try await client.execute(request, deadline: NIODeadline.now() + TimeAmount.nanoseconds(budget))
                var body: [UInt8] = []
                for try await chunk in response.body {
                    let room = maxBodyBytes - body.count
                    body.append(contentsOf: chunk.readableBytesView.prefix(max(room, 0)))
                    if body.count >= maxBodyBytes { break }
                }
                return .answered(Answer(status: Int(response.status.code), retryAfter: response.headers.first(name: "retry-after"), body: body))
            } catch {
                return Self.classify(error)
            }
        }
    }

    /// `operation`'s result, or `fallback` when `limit` passes first (or the caller is cancelled);
    /// `operation` is then cancelled, and must return promptly when it is.
    static func withDeadline<T: Sendable>(_ limit: Duration, orElse fallback: T, _ operation: @escaping @Sendable () async -> T) async -> T {
        await withTaskGroup(of: T.self) { group in
            group.addTask { await operation() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return fallback
            }
            let first = await group.next() ?? fallback
            group.cancelAll()
            return first
        }
    }

    /// What a thrown error means for the attempt.
    static func classify(_ error: any Error) -> Outcome {
        if let error = error as? HTTPClientError {
            let timeouts: [HTTPClientError] = [.deadlineExceeded, .connectTimeout, .readTimeout, .writeTimeout, .tlsHandshakeTimeout]
            if timeouts.contains(error) { return .timedOut }
            if error == .cancelled { return .failed(reason: "cancelled", detail: "HTTPClientError.cancelled") }
            // The code's name only: some codes carry header names or values.
            return .failed(reason: "connection_failed", detail: String(error.description.prefix(while: { $0 != "(" })))
        }
        if error is CancellationError { return .failed(reason: "cancelled", detail: "CancellationError") }
        if let error = error as? ChannelError, case .connectTimeout = error { return .timedOut }
        if let error = error as? NIOConnectionError {
            if error.dnsAError != nil || error.dnsAAAAError != nil, error.connectionErrors.isEmpty {
                return .failed(reason: "dns_failed", detail: "NIOConnectionError: the name did not resolve")
            }
            let underlying = error.connectionErrors.first.map { describe($0.error) } ?? "no connection attempt"
            return .failed(reason: "connection_failed", detail: "NIOConnectionError: \(underlying)")
        }
        return .failed(reason: "connection_failed", detail: describe(error))
    }

    /// The error's type and, for system call errors, the errno: nothing that could hold a host,
    /// a URL or a header.
    static func describe(_ error: any Error) -> String {
        if let error = error as? IOError { return "IOError errno \(error.errnoCode)" }
        if let error = error as? ChannelError, case .connectTimeout = error { return "ChannelError.connectTimeout" }
        return String(reflecting: type(of: error))
    }

    /// `duration` in whole nanoseconds, clamped to 0…1 day.
    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        guard seconds < 86_400 else { return 86_400 * 1_000_000_000 }
        return seconds * 1_000_000_000 + max(attoseconds, 0) / 1_000_000_000
    }
}
