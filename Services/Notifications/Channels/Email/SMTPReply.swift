import NIOCore

/// One SMTP reply (RFC 5321 §4.2): a three-digit code and its text, one entry per line.
struct SMTPReply: Sendable, Equatable {
    /// 200–599.
    let code: Int
    /// The text after the code and its separator, one entry per reply line (at least one).
    let lines: [String]

    init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines.isEmpty ? [""] : lines
    }

    /// The first line as the server wrote it: `451 4.3.0 Try again later`.
    var firstLine: String { lines[0].isEmpty ? String(code) : "\(code) \(lines[0])" }

    /// 2xx: the command was done.
    var isPositive: Bool { code / 100 == 2 }
    /// 3xx: go on (`334` during AUTH, `354` after DATA).
    var isIntermediate: Bool { code / 100 == 3 }
    /// 4xx: not now; the same command may succeed later.
    var isTransientFailure: Bool { code / 100 == 4 }
    /// 5xx: no; repeating it will not help.
    var isPermanentFailure: Bool { code / 100 == 5 }
}

/// Why the bytes a server sent are not an SMTP reply.
enum SMTPReplyDecodingError: Error, Sendable, Equatable {
    /// A line does not start with a code from 200 to 599 followed by a space, `-` or its end.
    case malformedLine
    /// The lines of one multi-line reply carry different codes.
    case inconsistentCodes
    /// A line is longer than `SMTPReplyParser.maximumLineLength`.
    case lineTooLong
    /// A multi-line reply has more than `SMTPReplyParser.maximumLines` lines.
    case tooManyLines
}

/// Finds the first complete reply at the start of some bytes.
///
/// Accepts lines ending in CRLF or a bare LF; a multi-line reply is `250-first`, `250-...`,
/// `250 last` (RFC 5321 §4.2.1). Bounded: a line over 2048 bytes or a reply over 64 lines is an
/// error, so a misbehaving server cannot make the client buffer without end.
enum SMTPReplyParser {
    static let maximumLineLength = 2048
    static let maximumLines = 64

    /// The reply and how many bytes it took, or nil when more bytes are needed.
    static func parse(_ bytes: [UInt8]) throws(SMTPReplyDecodingError) -> (reply: SMTPReply, consumed: Int)? {
        var lines: [String] = []
        var code: Int?
        var start = 0
        while true {
            guard let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                if bytes.count - start > maximumLineLength { throw SMTPReplyDecodingError.lineTooLong }
                return nil
            }
            var end = newline
            if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            guard end - start <= maximumLineLength else { throw SMTPReplyDecodingError.lineTooLong }
            let line = try parseLine(bytes[start..<end])
            if let code, code != line.code { throw SMTPReplyDecodingError.inconsistentCodes }
            code = line.code
            lines.append(line.text)
            start = newline + 1
            if line.isLast { return (SMTPReply(code: line.code, lines: lines), start) }
            if lines.count >= maximumLines { throw SMTPReplyDecodingError.tooManyLines }
        }
    }

    private static func parseLine(_ line: ArraySlice<UInt8>) throws(SMTPReplyDecodingError) -> (code: Int, isLast: Bool, text: String) {
        guard line.count >= 3 else { throw SMTPReplyDecodingError.malformedLine }
        let digits = Array(line.prefix(3))
        guard (UInt8(ascii: "2")...UInt8(ascii: "5")).contains(digits[0]),
            digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { throw SMTPReplyDecodingError.malformedLine }
        let code = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        let rest = line.dropFirst(3)
        guard let separator = rest.first else { return (code, true, "") }
        let isLast: Bool
        switch separator {
        case UInt8(ascii: " "): isLast = true
        case UInt8(ascii: "-"): isLast = false
        default: throw SMTPReplyDecodingError.malformedLine
        }
        return (code, isLast, String(decoding: rest.dropFirst(), as: UTF8.self))
    }
}

/// A reply as the decoder hands it on, with how many bytes were already buffered behind it.
///
/// `bytesBufferedAfter` matters for STARTTLS: anything the server sent after its `220` and before
/// the TLS handshake was not protected by TLS, and must not be read as if it had been (the
/// "STARTTLS command injection" flaw, CVE-2011-0411 and kin).
struct SMTPReplyFrame: Sendable {
    let reply: SMTPReply
    let bytesBufferedAfter: Int
}

/// A NIO decoder from a server's bytes to `SMTPReplyFrame`s; see `SMTPReplyParser` for the rules.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReplyFrame

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let parsed = try SMTPReplyParser.parse(Array(buffer.readableBytesView)) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: parsed.consumed)
        let frame = SMTPReplyFrame(reply: parsed.reply, bytesBufferedAfter: buffer.readableBytes)
        context.fireChannelRead(self.wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // A partial reply at the end of the connection is dropped: the conversation reports the
        // connection as dropped at the step that was waiting.
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
