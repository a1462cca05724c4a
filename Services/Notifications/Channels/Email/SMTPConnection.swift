import NIOCore
import NIOPosix

/// One TCP connection to a relay, driven from async code: each call hops onto the channel's event
/// loop, hands the exchange to the channel's `SMTPConversationHandler` and awaits its reply.
///
/// Every call either returns a reply or throws an `SMTPConversationFailure`; none waits longer
/// than the timeout it was given (the handler enforces it on the event loop).
struct SMTPConnection: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<SMTPConversationHandler>
    private let greeting: EventLoopFuture<SMTPReply>

    /// The largest buffer of unparsed server bytes kept (a bound on a misbehaving server).
    static let maximumBufferedReplyBytes = 256 * 1024

    private struct Attached: Sendable {
        let handler: NIOLoopBound<SMTPConversationHandler>
        let greeting: EventLoopFuture<SMTPReply>
    }

    /// Connects to the relay; the greeting timeout starts as soon as the TCP connection is up.
    static func open(to relay: SMTPRelay, on group: any EventLoopGroup) async throws(SMTPConversationFailure) -> SMTPConnection {
        let greetingTimeout = TimeAmount(relay.timeouts.greeting)
        let maximumBuffer = maximumBufferedReplyBytes
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(relay.timeouts.connect))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(ByteToMessageHandler(SMTPReplyDecoder(), maximumBufferSize: maximumBuffer))
                    try pipeline.addHandler(SMTPConversationHandler(eventLoop: channel.eventLoop, greetingTimeout: greetingTimeout))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: relay.host, port: relay.port).get()
        } catch {
            if let channelError = error as? ChannelError, case .connectTimeout = channelError {
                throw SMTPConversationFailure.timedOut(.connect)
            }
            throw SMTPConversationFailure.connectionRefused(String(String(describing: error).prefix(160)))
        }
        do {
            let attached = try await channel.eventLoop.submit {
                let handler = try channel.pipeline.syncOperations.handler(type: SMTPConversationHandler.self)
                guard let greeting = handler.greeting else { throw SMTPConversationFailure.connectionDropped(.greeting) }
                return Attached(handler: NIOLoopBound(handler, eventLoop: channel.eventLoop), greeting: greeting)
            }.get()
            return SMTPConnection(channel: channel, handler: attached.handler, greeting: attached.greeting)
        } catch {
            // The server closed the connection before we looked: the handlers are gone already.
            channel.close(promise: nil)
            throw SMTPConversationFailure.connectionDropped(.greeting)
        }
    }

    private init(channel: any Channel, handler: NIOLoopBound<SMTPConversationHandler>, greeting: EventLoopFuture<SMTPReply>) {
        self.channel = channel
        self.handler = handler
        self.greeting = greeting
    }

    /// The server's first reply.
    func readGreeting() async throws(SMTPConversationFailure) -> SMTPReply {
        try await Self.reply(from: greeting, at: .greeting)
    }

    /// Sends `command` (a line with its CRLF, or the whole dot-stuffed message) and waits up to
    /// `timeout` for the reply. With `tlsUpgrade`, a 2xx reply is returned only once TLS is up.
    func exchange(
        _ step: SMTPStep, _ command: ByteBuffer, timeout: Duration, tlsUpgrade: SMTPTLSUpgrade? = nil
    ) async throws(SMTPConversationFailure)
        -> SMTPReply
    {
        let handler = self.handler
        let exchange = SMTPExchange(step: step, command: command, timeout: TimeAmount(timeout), tlsUpgrade: tlsUpgrade)
        let future = channel.eventLoop.flatSubmit { handler.value.perform(exchange) }
        return try await Self.reply(from: future, at: step)
    }

    /// Closes the connection (if it is not closed already) and waits until it is.
    func close() async {
        try? await channel.close().get()
    }

    private static func reply(from future: EventLoopFuture<SMTPReply>, at step: SMTPStep) async throws(SMTPConversationFailure) -> SMTPReply {
        do {
            return try await future.get()
        } catch let failure as SMTPConversationFailure {
            throw failure
        } catch {
            throw SMTPConversationFailure.connectionDropped(step)
        }
    }
}
