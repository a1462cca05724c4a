/// Quoted-printable body encoding (RFC 2045 §6.7) of UTF-8 text, for the parts of a message.
///
/// Guarantees of `encode`: the result is 7-bit ASCII; every line is at most 76 characters
/// (a soft break `=` included) and ends with CRLF, whatever line endings the text had (CRLF,
/// LF or a lone CR are each one line break); `=` is always followed by two upper-case hex digits
/// or a soft line break, so the output never contains `=_` (the MIME boundary relies on this);
/// spaces and tabs at the end of a line are encoded, so no mail system can strip them.
enum QuotedPrintable {
    /// The longest encoded line, soft break included (RFC 2045: 76).
    static let maximumLineLength = 76

    static func encode(_ text: String) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count + text.utf8.count / 8)
        for (index, line) in lines(of: Array(text.utf8)).enumerated() {
            if index > 0 { output += [cr, lf] }
            encodeLine(line, into: &output)
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// `bytes` split at each CRLF, LF or lone CR; the last line may be empty.
    static func lines(of bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == cr || byte == lf {
                lines.append(bytes[start..<index])
                if byte == cr, index + 1 < bytes.endIndex, bytes[index + 1] == lf { index += 1 }
                start = index + 1
            }
            index += 1
        }
        lines.append(bytes[start..<bytes.endIndex])
        return lines
    }

    private static func encodeLine(_ line: ArraySlice<UInt8>, into output: inout [UInt8]) {
        var column = 0
        var index = line.startIndex
        while index < line.endIndex {
            let byte = line[index]
            let isLast = index == line.endIndex - 1
            let literal: Bool
            switch byte {
            case space, tab: literal = !isLast
            case equals: literal = false
            case 33...126: literal = true
            default: literal = false
            }
            let width = literal ? 1 : 3
            // A later soft break needs one column for its `=`; the line's last token needs none.
            let limit = isLast ? maximumLineLength : maximumLineLength - 1
            if column + width > limit {
                output += [equals, cr, lf]
                column = 0
            }
            if literal {
                output.append(byte)
            } else {
                output += [equals, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
            }
            column += width
            index += 1
        }
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")
    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let equals = UInt8(ascii: "=")
    private static let hexDigits = Array("0123456789ABCDEF".utf8)
}
