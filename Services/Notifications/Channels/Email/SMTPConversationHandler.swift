import NIOCore
import NIOSSL
import NIOTLS

/// One command and how long its reply may take.
struct SMTPExchange: Sendable {
    var step: SMTPStep
    /// The bytes to send: a command line with its CRLF, or the dot-stuffed message.
    var command: ByteBuffer
    var timeout: TimeAmount
    /// Set for STARTTLS: on a 2xx reply TLS starts before anything else is read, and the reply
    /// is handed back only once the handshake has finished.
    var tlsUpgrade: SMTPTLSUpgrade?
}

/// How to start TLS after the server accepted STARTTLS.
struct SMTPTLSUpgrade: Sendable {
    var context: NIOSSLContext
    /// SNI and the name the certificate must carry; nil for an IP literal (then the certificate
    /// must name the peer's address).
    var serverHostname: String?
    var handshakeTimeout: TimeAmount
}

/// Runs one SMTP conversation on its channel, on the channel's event loop: one exchange at a
/// time (no pipelining), each with its own timeout.
///
/// Guarantees:
/// - every reply promise it creates is completed exactly once: with the reply, or with an
///   `SMTPConversationFailure` when the step times out, the connection drops or breaks, the TLS
///   handshake fails, or the server sends what SMTP does not allow here;
/// - after the first failure the channel is closed and every later exchange fails at once with
///   that failure;
/// - a reply nobody asked for is a protocol violation, and so is any byte the server sent after
///   its STARTTLS reply before the handshake (those bytes were not protected by TLS);
/// - the TLS handler is inserted in the same event loop tick that read the STARTTLS reply, so no
///   later plaintext byte is read as if it came over TLS.
///
/// Pipeline: `[NIOSSLClientHandler after STARTTLS] → ByteToMessageHandler(SMTPReplyDecoder) →
/// SMTPConversationHandler`. Async code reaches it through `SMTPConnection`.
final class SMTPConversationHandler: ChannelInboundHandler {
    typealias InboundIn = SMTPReplyFrame

    private struct Waiting {
        let step: SMTPStep
        let number: Int
        let promise: EventLoopPromise<SMTPReply>
        let tlsUpgrade: SMTPTLSUpgrade?
        var timeout: Scheduled<Void>?
    }

    private enum State {
        /// Not in a pipeline yet.
        case detached
        /// A command (or, first, the greeting) waits for its reply.
        case waiting(Waiting)
        /// The server accepted STARTTLS (`accepted`); the TLS handshake runs.
        case handshaking(Waiting, accepted: SMTPReply)
        /// Between exchanges.
        case idle
        /// The conversation is over.
        case failed(SMTPConversationFailure)
    }

    let eventLoop: any EventLoop
    /// The server's greeting, the first reply on the connection; set once the handler is added.
    private(set) var greeting: EventLoopFuture<SMTPReply>?
    private let greetingTimeout: TimeAmount
    private var state: State = .detached
    private var context: ChannelHandlerContext?
    private var lastStep: SMTPStep = .greeting
    private var exchangeCount = 0

    init(eventLoop: any EventLoop, greetingTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.greetingTimeout = greetingTimeout
    }

    /// Sends `exchange.command` and returns its reply, or fails with `SMTPConversationFailure`.
    /// Must be called on `eventLoop`.
    func perform(_ exchange: SMTPExchange) -> EventLoopFuture<SMTPReply> {
        eventLoop.preconditionInEventLoop()
        switch state {
        case .failed(let failure):
            return eventLoop.makeFailedFuture(failure)
        case .detached, .waiting, .handshaking:
            return eventLoop.makeFailedFuture(SMTPConversationFailure.protocolViolation(exchange.step, "a command was sent before the previous reply"))
        case .idle:
            guard let context else { return eventLoop.makeFailedFuture(SMTPConversationFailure.connectionDropped(exchange.step)) }
            lastStep = exchange.step
            let promise = eventLoop.makePromise(of: SMTPReply.self)
            startWaiting(step: exchange.step, promise: promise, tlsUpgrade: exchange.tlsUpgrade, timeout: exchange.timeout)
            context.writeAndFlush(NIOAny(exchange.command), promise: nil)
            return promise.futureResult
        }
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let promise = eventLoop.makePromise(of: SMTPReply.self)
        greeting = promise.futureResult
        exchangeCount += 1
        state = .waiting(Waiting(step: .greeting, number: exchangeCount, promise: promise, tlsUpgrade: nil, timeout: nil))
        if context.channel.isActive { startGreetingTimeout() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        fail(.connectionDropped(lastStep))
    }

    func channelActive(context: ChannelHandlerContext) {
        startGreetingTimeout()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.connectionDropped(lastStep))
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch state {
        case .waiting(let waiting):
            waiting.timeout?.cancel()
            if let upgrade = waiting.tlsUpgrade, frame.reply.isPositive {
                startTLS(context: context, upgrade: upgrade, waiting: waiting, frame: frame)
            } else {
                state = .idle
                waiting.promise.succeed(frame.reply)
            }
        case .idle, .handshaking:
            fail(.protocolViolation(lastStep, "the server sent a reply nobody asked for"))
        case .detached, .failed:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent, case .handshaking(let waiting, let accepted) = state {
            waiting.timeout?.cancel()
            state = .idle
            waiting.promise.succeed(accepted)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .handshaking = state {
            fail(.tlsFailed(Self.describe(error)))
        } else if error is SMTPReplyDecodingError || error is ByteToMessageDecoderError.PayloadTooLargeError {
            fail(.protocolViolation(lastStep, Self.describe(error)))
        } else {
            fail(.connectionDropped(lastStep))
        }
    }

    // MARK: Steps

    private func startWaiting(step: SMTPStep, promise: EventLoopPromise<SMTPReply>, tlsUpgrade: SMTPTLSUpgrade?, timeout: TimeAmount) {
        exchangeCount += 1
        var waiting = Waiting(step: step, number: exchangeCount, promise: promise, tlsUpgrade: tlsUpgrade, timeout: nil)
        waiting.timeout = scheduleTimeout(timeout, step: step, number: waiting.number)
        state = .waiting(waiting)
    }

    private func startGreetingTimeout() {
        guard case .waiting(var waiting) = state, waiting.step == .greeting, waiting.timeout == nil else { return }
        waiting.timeout = scheduleTimeout(greetingTimeout, step: .greeting, number: waiting.number)
        state = .waiting(waiting)
    }

    private func startTLS(context: ChannelHandlerContext, upgrade: SMTPTLSUpgrade, waiting: Waiting, frame: SMTPReplyFrame) {
        guard frame.bytesBufferedAfter == 0 else {
            fail(.protocolViolation(.startTLS, "the server sent more after accepting STARTTLS, before TLS"))
            return
        }
        // The state moves first: adding the TLS handler starts the handshake at once, and its
        // errors must find the conversation waiting for it.
        lastStep = .tlsHandshake
        exchangeCount += 1
        var handshake = Waiting(step: .tlsHandshake, number: exchangeCount, promise: waiting.promise, tlsUpgrade: nil, timeout: nil)
        handshake.timeout = scheduleTimeout(upgrade.handshakeTimeout, step: .tlsHandshake, number: handshake.number)
        state = .handshaking(handshake, accepted: frame.reply)
        do {
            let tlsHandler = try NIOSSLClientHandler(context: upgrade.context, serverHostname: upgrade.serverHostname)
            try context.pipeline.syncOperations.addHandler(tlsHandler, position: .first)
        } catch {
            fail(.tlsFailed(Self.describe(error)))
        }
    }

    /// Fails the conversation at `step` after `amount`, unless exchange `number` has been
    /// answered by then.
    private func scheduleTimeout(_ amount: TimeAmount, step: SMTPStep, number: Int) -> Scheduled<Void> {
        eventLoop.assumeIsolated().scheduleTask(in: amount) { [weak self] in
            guard let self, self.waitingNumber == number else { return }
            self.fail(.timedOut(step))
        }
    }

    private var waitingNumber: Int? {
        switch state {
        case .waiting(let waiting), .handshaking(let waiting, _): return waiting.number
        case .detached, .idle, .failed: return nil
        }
    }

    /// Ends the conversation: the waiting exchange fails with `failure`, the channel closes.
    private func fail(_ failure: SMTPConversationFailure) {
        let waiting: Waiting?
        switch state {
        case .failed:
            return
        case .waiting(let current), .handshaking(let current, _):
            waiting = current
        case .detached, .idle:
            waiting = nil
        }
        state = .failed(failure)
        waiting?.timeout?.cancel()
        waiting?.promise.fail(failure)
        context?.close(promise: nil)
    }

    private static func describe(_ error: any Error) -> String {
        String(String(describing: error).prefix(160))
    }
}

@available(*, unavailable)
extension SMTPConversationHandler: Sendable {}
