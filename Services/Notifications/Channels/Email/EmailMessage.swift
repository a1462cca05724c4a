import Foundation

/// An email mailbox, `local@domain`, that is safe to put into an SMTP command and a header as is.
///
/// Guarantees: ASCII only; no whitespace, control characters or `<>()[]\,;:"`; exactly one `@`;
/// a dot-atom local part of 1–64 characters (RFC 5322 `atext` and single inner dots) and a domain
/// of dot-separated letter-digit-hyphen labels (1–63 each, no hyphen at either end, 253 in all);
/// 254 characters at most. Quoted local parts, address literals (`user@[1.2.3.4]`) and
/// internationalised addresses (which need SMTPUTF8) are refused: such an address makes a
/// delivery undeliverable instead of being sent in a form some relay might misread.
///
/// It deliberately has no `description`: a mailbox is personal data and must not slip into a log
/// through string interpolation. Read `rawValue` where the address belongs.
struct EmailMailbox: Sendable, Hashable {
    /// The address exactly as given, e.g. `ana@example.com`.
    let rawValue: String

    /// `nil` when `text` is not a mailbox this channel can send to (see the type's guarantees).
    init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count <= 254, let at = bytes.lastIndex(of: UInt8(ascii: "@")) else { return nil }
        guard Self.isDotAtom(bytes[..<at], maximumLength: 64), Self.isHostname(bytes[(at + 1)...]) else { return nil }
        self.rawValue = text
    }

    /// The part after the `@`.
    var domain: String {
        guard let at = rawValue.lastIndex(of: "@") else { return rawValue }
        return String(rawValue[rawValue.index(after: at)...])
    }

    /// RFC 5322 `atext`: letters, digits and ``!#$%&'*+-/=?^_`{|}~``.
    static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return atextSymbols.contains(byte)
        }
    }

    private static let atextSymbols = Set("!#$%&'*+-/=?^_`{|}~".utf8)

    /// A non-empty run of `atext` with single dots inside (no leading, trailing or double dot).
    static func isDotAtom(_ bytes: ArraySlice<UInt8>, maximumLength: Int) -> Bool {
        guard (1...maximumLength).contains(bytes.count) else { return false }
        let dot = UInt8(ascii: ".")
        guard bytes.first != dot, bytes.last != dot else { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            guard isAtext(byte) || byte == dot, !(byte == dot && previous == dot) else { return false }
            previous = byte
        }
        return true
    }

    /// Dot-separated labels of letters, digits and inner hyphens, 1–63 each, 253 in all.
    static func isHostname(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard (1...253).contains(bytes.count) else { return false }
        let hyphen = UInt8(ascii: "-")
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard (1...63).contains(label.count), label.first != hyphen, label.last != hyphen else { return false }
            for byte in label {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"), hyphen:
                    continue
                default:
                    return false
                }
            }
        }
        return true
    }
}

/// A mailbox and the name to show beside it (`"Ana Souza" <ana@example.com>`).
///
/// The display name may hold any text: the message builder removes line breaks and control
/// characters from it and encodes it (RFC 2047) when it is not plain ASCII, so it can never end
/// its header early.
struct EmailAddress: Sendable, Equatable {
    var mailbox: EmailMailbox
    var displayName: String?

    init(_ mailbox: EmailMailbox, displayName: String? = nil) {
        self.mailbox = mailbox
        self.displayName = displayName
    }
}

/// Why an `EmailMessage` could not be made.
enum EmailMessageError: Error, Sendable, Equatable {
    /// The delivery id is not 1–64 letters, digits, `-`, `_` and inner single dots (a UUID string
    /// always is). It becomes the Message-ID's left part and the MIME boundary, so nothing else
    /// is accepted.
    case invalidDeliveryID
}

/// One outgoing email to one recipient: what the SMTP channel sends for one delivery attempt.
///
/// Guarantees: the delivery id is safe in a header and a MIME boundary, so `messageID` is always
/// a well-formed `<id@domain>`; the same delivery rendered again (a retry, a replay) carries the
/// same Message-ID, which lets a recipient's mail system and an operator recognise a resend.
struct EmailMessage: Sendable, Equatable {
    /// The delivery's id (a UUID string): the left part of the Message-ID, and `X-Tally-Delivery`.
    let deliveryID: String
    let from: EmailAddress
    let to: EmailAddress
    /// Any text; line breaks are folded away when the header is written.
    let subject: String
    /// The `text/plain` part, any line endings (they are sent as CRLF).
    let textBody: String
    /// The `text/html` part, any line endings (they are sent as CRLF).
    let htmlBody: String
    /// The `Date` header: when the message was (first) written.
    let date: Date

    init(
        deliveryID: String, from: EmailAddress, to: EmailAddress, subject: String, textBody: String, htmlBody: String, date: Date
    ) throws(EmailMessageError) {
        guard Self.isValidDeliveryID(deliveryID) else { throw EmailMessageError.invalidDeliveryID }
        self.deliveryID = deliveryID
        self.from = from
        self.to = to
        self.subject = subject
        self.textBody = textBody
        self.htmlBody = htmlBody
        self.date = date
    }

    /// `<{deliveryID}@{sender's domain}>`: stable across resends of the same delivery.
    var messageID: String { "<\(deliveryID)@\(from.mailbox.domain)>" }

    /// 1–64 of `[A-Za-z0-9_-]` with single inner dots: valid as a Message-ID's `id-left` and, with
    /// a `=_` prefix, as a MIME boundary (at most 70 characters).
    static func isValidDeliveryID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        let dot = UInt8(ascii: ".")
        guard bytes.first != dot, bytes.last != dot else { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"):
                break
            case dot where previous != dot:
                break
            default:
                return false
            }
            previous = byte
        }
        return true
    }
}
