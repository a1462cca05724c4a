import Foundation

/// One WhatsApp message to one person: a free-form text (only inside the 24-hour window after
/// the person wrote) or an approved template with its body variables.
///
/// `to` is personal data: it goes to Meta and nowhere else (no log line, reason or detail).
struct WhatsAppMessage: Sendable, Equatable, CustomStringConvertible {
    enum Content: Sendable, Equatable {
        /// Up to 4096 characters; links are not previewed.
        case text(String)
        /// An approved template by name and language code (`pt_BR`, `en_US`), with the values of
        /// its body variables `{{1}}`, `{{2}}`, … in order.
        case template(name: String, language: String, parameters: [String])
    }

    /// The recipient's number in E.164, `+` and 8 to 15 digits (`+5511987654321`).
    var to: String
    var content: Content

    init(to: String, content: Content) {
        self.to = to
        self.content = content
    }

    /// Names the kind of message (and the template), never the number or the text.
    var description: String {
        switch content {
        case .text(let body): "WhatsAppMessage(text, \(body.count) characters)"
        case .template(let name, let language, let parameters): "WhatsAppMessage(template \(name) \(language), \(parameters.count) parameters)"
        }
    }
}

/// A phone number in E.164 form.
enum E164 {
    /// The digits of `text` (without the `+`) when it is `+` followed by 8 to 15 digits, the first
    /// not zero (`+[1-9][0-9]{7,14}`); nil otherwise. No spaces, dashes or brackets are taken: the
    /// number is stored normalised, and a number that is not is refused, not guessed at.
    static func digits(of text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 9, bytes.count <= 16, bytes[0] == UInt8(ascii: "+"), bytes[1] != UInt8(ascii: "0") else { return nil }
        let digits = bytes.dropFirst()
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return String(decoding: digits, as: UTF8.self)
    }
}
