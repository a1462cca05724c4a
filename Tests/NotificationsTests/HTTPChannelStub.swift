import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization

/// A local HTTP server on 127.0.0.1 and a free port that stands in for a tenant's endpoint or
/// Meta's API: it records every request on the paths it serves (POST and GET) and answers as the
/// test's script says.
final class HTTPChannelStub: Sendable {
    /// One request as it arrived.
    struct Received: Sendable {
        var method: String
        var path: String
        /// The `Host` header (HTTP/1.1) or `:authority` (HTTP/2).
        var authority: String?
        /// By lower-cased name.
        var headers: [String: String]
        var body: [UInt8]
        var arrivedAt: Date

        var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    /// What to answer: a status, headers, a body, after an optional delay.
    struct Answer: Sendable {
        var status: Int
        var headers: [String: String]
        var body: String
        var delay: Duration?

        static func status(_ status: Int, headers: [String: String] = [:], body: String = "", after delay: Duration? = nil) -> Answer {
            Answer(status: status, headers: headers, body: body, delay: delay)
        }

        static func json(_ status: Int, _ body: String) -> Answer {
            Answer(status: status, headers: ["Content-Type": "application/json"], body: body, delay: nil)
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let script: @Sendable (Received) -> Answer
    private let log = Mutex<[Received]>([])

    init(script: @escaping @Sendable (Received) -> Answer) {
        self.script = script
    }

    /// Every request received so far, in order.
    var received: [Received] { log.withLock { $0 } }

    func respond(to request: Request) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for field in request.headers {
            headers[field.name.canonicalName] = field.value
        }
        let received = Received(
            method: request.method.rawValue, path: request.uri.path, authority: request.head.authority, headers: headers, body: Array(buffer.readableBytesView), arrivedAt: Date())
        log.withLock { $0.append(received) }
        let answer = script(received)
        if let delay = answer.delay { try await Task.sleep(for: delay) }
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let fieldName = HTTPField.Name(name) { fields[fieldName] = value }
        }
        return Response(status: .init(code: answer.status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: answer.body)))
    }

    /// Runs `body` with a stub serving `paths` and its port, then stops the server (and any answer
    /// it is still holding back).
    static func run<T>(
        paths: [String], answering script: @escaping @Sendable (Received) -> Answer, _ body: (HTTPChannelStub, Int) async throws -> T
    ) async throws -> T {
        let stub = HTTPChannelStub(script: script)
        let router = Router()
        for path in paths {
            router.post(RouterPath(path)) { request, _ in try await stub.respond(to: request) }
            router.get(RouterPath(path)) { request, _ in try await stub.respond(to: request) }
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "http-channel-stub"),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: Logger(label: "http-channel-stub")
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            defer { group.cancelAll() }
            var bound = ports.makeAsyncIterator()
            guard let port = await bound.next(), port > 0 else { throw Failure(description: "the HTTP stub did not start") }
            return try await body(stub, port)
        }
    }
}
