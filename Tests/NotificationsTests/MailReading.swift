import Foundation

/// A message read back the way a mail client reads it, for assertions: headers unfolded,
/// encoded-words decoded on request, MIME parts split and their quoted-printable decoded.
/// Deliberately written apart from the builder (no shared code), so a test compares two
/// readings of the standards rather than the builder with itself.
struct ReadMail {
    struct Part {
        let headers: [(name: String, value: String)]
        /// The part's bytes as sent (still quoted-printable).
        let rawContent: String

        func header(_ name: String) -> String? { ReadMail.find(name, in: headers) }

        /// The content with quoted-printable undone, as text.
        var decodedText: String { String(decoding: MailDecoding.quotedPrintable(rawContent), as: UTF8.self) }
    }

    /// Each header in order, its continuation lines joined (CRLF removed, the space kept).
    let headers: [(name: String, value: String)]
    let body: String

    init(_ bytes: [UInt8]) {
        let (headers, body) = Self.splitHeaders(String(decoding: bytes, as: UTF8.self))
        self.headers = headers
        self.body = body
    }

    func header(_ name: String) -> String? { Self.find(name, in: headers) }

    func headers(named name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The boundary parameter of `Content-Type`, unquoted.
    var boundary: String? {
        guard let contentType = header("Content-Type"), let range = contentType.range(of: "boundary=") else { return nil }
        var value = contentType[range.upperBound...]
        if value.hasPrefix("\"") {
            value = value.dropFirst()
            guard let end = value.firstIndex(of: "\"") else { return nil }
            return String(value[..<end])
        }
        return String(value.prefix { $0 != ";" && $0 != " " })
    }

    /// The MIME parts between the boundaries, and whether the closing delimiter was there.
    func parts() -> (parts: [Part], closed: Bool) {
        guard let boundary else { return ([], false) }
        let chunks = body.components(separatedBy: "\r\n--" + boundary)
        var parts: [Part] = []
        var closed = false
        for chunk in chunks.dropFirst() {
            if chunk.hasPrefix("--") {
                closed = true
                break
            }
            let content = chunk.hasPrefix("\r\n") ? String(chunk.dropFirst()) : chunk  // "\r\n" is one Character
            let (headers, partBody) = Self.splitHeaders(content)
            parts.append(Part(headers: headers, rawContent: partBody))
        }
        return (parts, closed)
    }

    static func splitHeaders(_ text: String) -> (headers: [(name: String, value: String)], body: String) {
        let section: String
        let body: String
        if let end = text.range(of: "\r\n\r\n") {
            section = String(text[..<end.lowerBound])
            body = String(text[end.upperBound...])
        } else {
            section = text
            body = ""
        }
        var headers: [(name: String, value: String)] = []
        for line in section.components(separatedBy: "\r\n") where !line.isEmpty {
            if line.hasPrefix(" ") || line.hasPrefix("\t"), let last = headers.popLast() {
                headers.append((last.name, last.value + line))
            } else if let colon = line.firstIndex(of: ":") {
                let value = line[line.index(after: colon)...].drop { $0 == " " }
                headers.append((String(line[..<colon]), String(value)))
            }
        }
        return (headers, body)
    }

    static func find(_ name: String, in headers: [(name: String, value: String)]) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// Independent decoders of the encodings the builder uses.
enum MailDecoding {
    /// RFC 2045 quoted-printable: `=XX` is a byte, `=` CRLF a soft break; the rest as is.
    static func quotedPrintable(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "="), index + 2 < bytes.count {
                if bytes[index + 1] == 13, bytes[index + 2] == 10 {
                    index += 3
                    continue
                }
                if let byte = UInt8(String(decoding: bytes[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                    output.append(byte)
                    index += 3
                    continue
                }
            }
            output.append(bytes[index])
            index += 1
        }
        return output
    }

    /// A header value with RFC 2047 `B` encoded-words decoded (whitespace between two
    /// encoded-words is dropped, as RFC 2047 §6.2 says).
    static func encodedWords(_ value: String) -> String {
        var output: [UInt8] = []
        var previousWasEncoded = false
        var first = true
        for token in value.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            let decoded = decodeWord(String(token))
            if !first, !(previousWasEncoded && decoded != nil) { output.append(UInt8(ascii: " ")) }
            output += decoded ?? Array(token.utf8)
            previousWasEncoded = decoded != nil
            first = false
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func decodeWord(_ token: String) -> [UInt8]? {
        let prefix = "=?UTF-8?B?"
        guard token.uppercased().hasPrefix(prefix), token.hasSuffix("?="), token.count > prefix.count + 2 else { return nil }
        let encoded = token.dropFirst(prefix.count).dropLast(2)
        return Data(base64Encoded: String(encoded)).map { Array($0) }
    }
}
