import NIOCore
import NIOHTTP1
import NIOPosix

/// Why one benchmark request did not get an HTTP answer.
enum BenchFailure: Error, Hashable, CustomStringConvertible {
    /// The TCP connection could not be opened.
    case connect
    /// The connection closed before the answer was complete.
    case closed
    /// No complete answer within the request timeout.
    case timeout

    var description: String {
        switch self {
        case .connect: "connect"
        case .closed: "connection closed"
        case .timeout: "timeout"
        }
    }
}

/// One keep-alive HTTP/1.1 connection that carries one request at a time.
///
/// The load generator gives each worker its own connection, as a provider's delivery worker
/// would have; a failed request closes it and the next request opens a new one.
final class BenchConnection: Sendable {
    private let channel: any Channel
    private let collector: ResponseCollector
    let host: String

    private init(channel: any Channel, collector: ResponseCollector, host: String) {
        self.channel = channel
        self.collector = collector
        self.host = host
    }

    static func open(host: String, port: Int, on group: any EventLoopGroup) async throws(BenchFailure) -> BenchConnection {
        do {
            let collector = ResponseCollector()
            let channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(collector)
                    }
                }
                .connect(host: host, port: port).get()
            return BenchConnection(channel: channel, collector: collector, host: "\(host):\(port)")
        } catch {
            throw .connect
        }
    }

    var isOpen: Bool { channel.isActive }

    /// Sends one POST and returns the status code of the answer.
    func post(path: String, headers: [(String, String)], body: [UInt8], timeout: TimeAmount) async throws(BenchFailure) -> Int {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: host)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.count))
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        let requestHead = head
        let buffer = channel.allocator.buffer(bytes: body)
        let channel = self.channel
        let collector = self.collector
        let answer = channel.eventLoop.makePromise(of: Int.self)
        channel.eventLoop.execute {
            collector.expect(answer)
            let deadline = channel.eventLoop.scheduleTask(in: timeout) {
                answer.fail(BenchFailure.timeout)
                channel.close(promise: nil)
            }
            answer.futureResult.whenComplete { _ in deadline.cancel() }
            channel.write(HTTPClientRequestPart.head(requestHead), promise: nil)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
        do {
            return try await answer.futureResult.get()
        } catch let failure as BenchFailure {
            throw failure
        } catch {
            channel.close(promise: nil)
            throw .closed
        }
    }

    func close() async {
        try? await channel.close()
    }
}

/// Completes the waiting request's promise with the answer's status once the answer has ended.
/// All state is touched on the channel's event loop only.
private final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart

    private var waiting: EventLoopPromise<Int>?
    private var status = 0

    func expect(_ promise: EventLoopPromise<Int>) {
        if isClosed {
            promise.fail(BenchFailure.closed)
        } else {
            waiting = promise
        }
    }

    private var isClosed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body:
            break
        case .end:
            let promise = waiting
            waiting = nil
            promise?.succeed(status)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        waiting?.fail(BenchFailure.closed)
        waiting = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        waiting?.fail(BenchFailure.closed)
        waiting = nil
        context.close(promise: nil)
    }
}
