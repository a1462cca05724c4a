import Foundation

/// Header field writing for the message builder: cleaning, RFC 2047 encoded-words and folding.
///
/// Guarantees: every header `HeaderText` writes is 7-bit ASCII, its lines are at most 78
/// characters (unless a single unbreakable token, such as a 254-character address, is longer;
/// RFC 5322's hard limit of 998 still holds), continuation lines start with a space, and no text
/// from outside — a subject, a display name — can put a CR or LF into it, so it cannot start a
/// header of its own (header injection).
enum HeaderText {
    /// RFC 5322's recommended line length.
    static let maximumLineLength = 78
    /// UTF-8 bytes per encoded-word: 42 bytes are 56 base64 characters, and
    /// `=?UTF-8?B?` + 56 + `?=` is 68, so even the first line, `Subject: ` + word, stays within 78.
    static let bytesPerEncodedWord = 42

    /// `text` on one line: every run of CR/LF, and every other control character (C0, DEL, C1,
    /// U+2028, U+2029), becomes one space.
    static func cleaned(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var lastWasBreak = false
        for scalar in text.unicodeScalars {
            let isBreak = scalar == "\r" || scalar == "\n"
            if isBreak {
                if !lastWasBreak { scalars.append(" ") }
            } else if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029 {
                scalars.append(" ")
            } else {
                scalars.append(scalar)
            }
            lastWasBreak = isBreak
        }
        return String(scalars)
    }

    /// Printable ASCII only (space to `~`), and no `=?`, which a reader could take for the start
    /// of an encoded-word.
    static func isPlain(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) } && !text.contains("=?")
    }

    /// `text` as RFC 2047 `B` encoded-words (`=?UTF-8?B?...?=`), each holding whole Unicode
    /// scalars and at most `bytesPerEncodedWord` bytes of UTF-8. Empty text gives no words.
    static func encodedWords(_ text: String) -> [String] {
        var words: [String] = []
        var chunk: [UInt8] = []
        for scalar in text.unicodeScalars {
            let bytes = Array(String(Character(scalar)).utf8)
            if !chunk.isEmpty, chunk.count + bytes.count > bytesPerEncodedWord {
                words.append(encodedWord(chunk))
                chunk.removeAll(keepingCapacity: true)
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append(encodedWord(chunk)) }
        return words
    }

    private static func encodedWord(_ bytes: [UInt8]) -> String {
        "=?UTF-8?B?" + Data(bytes).base64EncodedString() + "?="
    }

    /// `Name: token token ...`, folded (CRLF + space) between tokens so lines stay within 78
    /// characters where a token allows. Tokens must be ASCII without spaces or line breaks.
    static func folded(_ name: String, _ tokens: [String]) -> String {
        var header = name + ":"
        var column = header.utf8.count
        var lineHasToken = false
        for token in tokens {
            let width = token.utf8.count
            if lineHasToken, column + 1 + width > maximumLineLength {
                header += "\r\n"
                column = 0
            }
            header += " " + token
            column += 1 + width
            lineHasToken = true
        }
        return header
    }

    /// An unstructured header such as `Subject`: as is when it is plain ASCII and fits on one
    /// line, otherwise as folded encoded-words (readers join adjacent encoded-words without the
    /// spaces between them, so the text comes back whole).
    static func unstructured(_ name: String, _ value: String) -> String {
        let text = cleaned(value)
        if isPlain(text), name.utf8.count + 2 + text.utf8.count <= maximumLineLength {
            return text.isEmpty ? name + ":" : name + ": " + text
        }
        return folded(name, encodedWords(text))
    }

    /// An address header such as `From`: `"Name" <mailbox>`, with the name as encoded-words when
    /// it is not plain ASCII or does not fit on one line, and only `<mailbox>` without a name.
    static func address(_ name: String, _ address: EmailAddress) -> String {
        let angle = "<" + address.mailbox.rawValue + ">"
        let display = cleaned(address.displayName ?? "").trimmingCharacters(in: .whitespaces)
        guard !display.isEmpty else { return name + ": " + angle }
        if isPlain(display) {
            let line = name + ": " + quoted(display) + " " + angle
            if line.utf8.count <= maximumLineLength { return line }
        }
        return folded(name, encodedWords(display) + [angle])
    }

    /// `text` as an RFC 5322 quoted-string: in double quotes, `\` and `"` escaped.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for character in text {
            if character == "\\" || character == "\"" { result.append("\\") }
            result.append(character)
        }
        return result + "\""
    }
}
