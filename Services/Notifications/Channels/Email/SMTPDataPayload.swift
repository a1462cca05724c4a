/// The bytes an SMTP client sends after the server's `354` to `DATA` (RFC 5321 §4.1.1.4, §4.5.2).
///
/// Guarantees of `encode`: every line break of `message` (CRLF, a bare LF or a bare CR) is sent as
/// CRLF; every line that starts with `.` gets one more `.` in front (the server removes it), so no
/// line of the message, not even one that is only `.`, can end the mail data early; the payload
/// ends with `CRLF . CRLF` — a CRLF is added when the message does not end with a line break, and
/// an empty message is just `. CRLF`.
enum SMTPDataPayload {
    static func encode(_ message: [UInt8]) -> [UInt8] {
        var payload: [UInt8] = []
        payload.reserveCapacity(message.count + message.count / 64 + 5)
        var atLineStart = true
        var index = message.startIndex
        while index < message.endIndex {
            let byte = message[index]
            if byte == cr || byte == lf {
                payload += [cr, lf]
                if byte == cr, index + 1 < message.endIndex, message[index + 1] == lf { index += 1 }
                atLineStart = true
            } else {
                if atLineStart, byte == dot { payload.append(dot) }
                payload.append(byte)
                atLineStart = false
            }
            index += 1
        }
        if !atLineStart { payload += [cr, lf] }
        payload += [dot, cr, lf]
        return payload
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")
    private static let dot = UInt8(ascii: ".")
}
