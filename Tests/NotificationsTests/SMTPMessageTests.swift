import Foundation
import ServiceRuntime
import Testing

@testable import Notifications

/// The email channel's pure parts: the MIME message, its headers, dot-stuffing, the reply parser,
/// the EHLO extensions and what a detail may say. No network.
@Suite("Email message and SMTP framing")
struct SMTPMessageTests {
    static let deliveryID = "0b9c6f9e-3c1d-4e0a-9a57-5d2f1c7e8a41"
    static let sender = EmailAddress(mailbox("billing@tally.example"), displayName: "Tally Billing")
    static let recipient = EmailAddress(mailbox("ana.souza@example.com"), displayName: "Ana Souza")

    /// A mailbox the test knows is valid.
    static func mailbox(_ text: String) -> EmailMailbox {
        guard let mailbox = EmailMailbox(text) else {
            Issue.record("not a mailbox: \(text)")
            return EmailMailbox("fallback@example.com")!
        }
        return mailbox
    }

    static func message(
        id: String = deliveryID, from: EmailAddress = sender, to: EmailAddress = recipient, subject: String = "Your invoice",
        text: String = "Hello Ana,\nyour invoice is ready.\n", html: String = "<p>Hello Ana,</p>\n<p>your invoice is ready.</p>\n",
        date: Date = Date(timeIntervalSince1970: 1_748_959_509)
    ) throws -> EmailMessage {
        try EmailMessage(deliveryID: id, from: from, to: to, subject: subject, textBody: text, htmlBody: html, date: date)
    }

    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines = bytes.split(separator: 10, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map { $0.last == 13 ? $0.dropLast() : $0 }
    }

    // MARK: Message-ID and identity headers

    @Test func messageIDIsDerivedFromTheDeliveryIDAndSurvivesAResend() throws {
        let first = ReadMail(MIMEMessage.render(try Self.message(date: Date(timeIntervalSince1970: 1_700_000_000))))
        let resend = ReadMail(MIMEMessage.render(try Self.message(date: Date(timeIntervalSince1970: 1_700_086_400))))
        #expect(first.header("Message-ID") == "<\(Self.deliveryID)@tally.example>")
        #expect(resend.header("Message-ID") == first.header("Message-ID"))
        #expect(first.header("X-Tally-Delivery") == Self.deliveryID)
        #expect(try Self.message().messageID == "<\(Self.deliveryID)@tally.example>")
    }

    @Test func sameMessageRendersToTheSameBytes() throws {
        let message = try Self.message(subject: "Fatura disponível ✅", text: "Olá\r\n.\r\nfim")
        #expect(MIMEMessage.render(message) == MIMEMessage.render(message))
    }

    @Test(arguments: ["", "has space", "line\r\nbreak", "a..b", ".lead", "trail.", "ümlaut", "semi;colon", String(repeating: "a", count: 65)])
    func deliveryIDsThatCouldBreakAHeaderAreRefused(id: String) {
        #expect(throws: EmailMessageError.invalidDeliveryID) {
            try EmailMessage(deliveryID: id, from: Self.sender, to: Self.recipient, subject: "s", textBody: "t", htmlBody: "h", date: Date())
        }
    }

    @Test(arguments: [UUID().uuidString, UUID().uuidString.lowercased(), "dlv_01JTALLY", "a.b-c_d", String(repeating: "a", count: 64)])
    func uuidsAndPlainIDsAreAccepted(id: String) throws {
        let message = try Self.message(id: id)
        #expect(ReadMail(MIMEMessage.render(message)).boundary == "=_" + id)
    }

    // MARK: Mailboxes

    @Test(arguments: ["ana@example.com", "a.b+tag@sub.example.co", "o'brien@example.ie", "x@localhost", "UPPER@EXAMPLE.COM"])
    func ordinaryMailboxesAreAccepted(text: String) {
        #expect(EmailMailbox(text)?.rawValue == text)
    }

    @Test(arguments: [
        "", "plain", "@example.com", "ana@", "ana@@example.com", "a b@example.com", "ana@exa mple.com", "ana@example.com\r\nRCPT TO:<x@y>",
        "<ana@example.com>", "\"quoted\"@example.com", "ana@[127.0.0.1]", "ana@-example.com", "ana@example..com", ".ana@example.com",
        "ana.@example.com", "ana..b@example.com", "josé@example.com", "ana@exämple.com", "ana@example.com>", "a,b@example.com",
    ])
    func mailboxesThatCouldBreakACommandOrHeaderAreRefused(text: String) {
        #expect(EmailMailbox(text) == nil)
    }

    @Test func mailboxLengthsAreBounded() {
        #expect(EmailMailbox(String(repeating: "a", count: 64) + "@example.com") != nil)
        #expect(EmailMailbox(String(repeating: "a", count: 65) + "@example.com") == nil)
        #expect(EmailMailbox("a@" + String(repeating: "b", count: 63) + ".com") != nil)
        #expect(EmailMailbox("a@" + String(repeating: "b", count: 64) + ".com") == nil)
    }

    // MARK: MIME structure

    @Test func theMessageIsMultipartAlternativeWithTextThenHTML() throws {
        let text = "Hello Ana,\nyour invoice €12,50 is ready.\n\n= a line with an equals sign\n"
        let html = "<p>Hello Ana,</p>\r\n<p>your invoice <b>€12,50</b> is ready.</p>"
        let mail = ReadMail(MIMEMessage.render(try Self.message(text: text, html: html)))

        #expect(mail.header("MIME-Version") == "1.0")
        let contentType = try #require(mail.header("Content-Type"))
        #expect(contentType.hasPrefix("multipart/alternative;"))
        #expect(mail.boundary == "=_\(Self.deliveryID)")

        let (parts, closed) = mail.parts()
        #expect(closed, "the closing delimiter --boundary-- is missing")
        try #require(parts.count == 2)
        #expect(parts[0].header("Content-Type") == "text/plain; charset=utf-8")
        #expect(parts[1].header("Content-Type") == "text/html; charset=utf-8")
        for part in parts { #expect(part.header("Content-Transfer-Encoding") == "quoted-printable") }
        #expect(parts[0].decodedText == text.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(parts[1].decodedText == html)
        #expect(String(decoding: MIMEMessage.render(try Self.message()), as: UTF8.self).hasSuffix("\r\n--=_\(Self.deliveryID)--\r\n"))
    }

    @Test func theHeadersAreTheExpectedOnesOnce() throws {
        let mail = ReadMail(MIMEMessage.render(try Self.message()))
        #expect(mail.headers.map(\.name) == ["Date", "From", "To", "Subject", "Message-ID", "X-Tally-Delivery", "MIME-Version", "Content-Type"])
        #expect(mail.header("From") == "\"Tally Billing\" <billing@tally.example>")
        #expect(mail.header("To") == "\"Ana Souza\" <ana.souza@example.com>")
        #expect(mail.header("Subject") == "Your invoice")
        #expect(mail.header("Date") == "Tue, 03 Jun 2025 14:05:09 +0000")
    }

    @Test func everyLineEndsWithCRLFIsASCIIAndFitsTheLineLimits() throws {
        let longLine = String(repeating: "Zoë pays €5 = ok. ", count: 40)
        let message = try Self.message(
            subject: String(repeating: "Lembrete de pagamento: fatura em aberto ", count: 4),
            text: "mixed\rendings\nhere\r\n" + longLine + "\n\ttab at end\t\nspace at end \n",
            html: "<div>" + String(repeating: "x", count: 3000) + "</div>\r<p>next</p>")
        let bytes = MIMEMessage.render(message)
        #expect(bytes.allSatisfy { $0 < 128 }, "the message is not 7-bit")
        for (index, byte) in bytes.enumerated() {
            if byte == 10 { #expect(index > 0 && bytes[index - 1] == 13, "bare LF at byte \(index)") }
            if byte == 13 { #expect(index + 1 < bytes.count && bytes[index + 1] == 10, "bare CR at byte \(index)") }
        }
        for line in Self.lines(bytes) {
            #expect(line.count <= 78, "a line of \(line.count) characters: \(String(decoding: line, as: UTF8.self).prefix(90))")
            #expect(line.last != 32 && line.last != 9, "trailing whitespace: \(String(decoding: line, as: UTF8.self))")
        }
        let parts = ReadMail(bytes).parts().parts
        try #require(parts.count == 2)
        #expect(parts[0].decodedText == "mixed\r\nendings\r\nhere\r\n" + longLine + "\r\n\ttab at end\t\r\nspace at end \r\n")
        #expect(parts[1].decodedText == "<div>" + String(repeating: "x", count: 3000) + "</div>\r\n<p>next</p>")
    }

    @Test func theBoundaryCannotOccurInTheContent() throws {
        // Content that spells the boundary itself, in both parts.
        let hostile = "--=_\(Self.deliveryID)\n--=_\(Self.deliveryID)--\n=_=_"
        let bytes = MIMEMessage.render(try Self.message(text: hostile, html: hostile))
        let mail = ReadMail(bytes)
        let (parts, closed) = mail.parts()
        #expect(closed)
        try #require(parts.count == 2)
        for part in parts {
            #expect(!part.rawContent.contains("=_"))
            #expect(part.decodedText == hostile.replacingOccurrences(of: "\n", with: "\r\n"))
        }
        #expect(QuotedPrintable.encode(hostile + "\u{0}=\u{7F}é").contains("=_") == false)
    }

    // MARK: Header encoding

    @Test func nonASCIISubjectIsRFC2047EncodedAndDecodesBack() throws {
        let subject = "Pagamento não aprovado — fatura nº 42 😀"
        let message = try Self.message(subject: subject)
        let header = try #require(ReadMail(MIMEMessage.render(message)).header("Subject"))
        #expect(header.hasPrefix("=?UTF-8?B?"))
        #expect(MailDecoding.encodedWords(header) == subject)
    }

    @Test func longSubjectsAreFoldedWithoutLosingAnything() throws {
        let subjects = [
            String(repeating: "Final notice before suspension ", count: 5),
            String(repeating: "日本語の件名 ", count: 20),
            String(repeating: "👩‍👩‍👧", count: 30),
            "Looks like =?UTF-8?B?encoded?= but is not",
        ]
        for subject in subjects {
            let bytes = MIMEMessage.render(try Self.message(subject: subject))
            let header = try #require(ReadMail(bytes).header("Subject"))
            #expect(MailDecoding.encodedWords(header) == subject)
            let headerSection = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n\r\n")[0]
            for line in headerSection.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 78, "\(line)") }
        }
    }

    @Test func displayNamesAreQuotedOrEncoded() throws {
        let quoted = try Self.message(from: EmailAddress(Self.mailbox("ops@tally.example"), displayName: #"Tally "Ops" \ Team"#))
        #expect(ReadMail(MIMEMessage.render(quoted)).header("From") == #""Tally \"Ops\" \\ Team" <ops@tally.example>"#)

        let accented = try Self.message(to: EmailAddress(Self.mailbox("zoe@example.com"), displayName: "Zoë Lévêque"))
        let to = try #require(ReadMail(MIMEMessage.render(accented)).header("To"))
        #expect(to.hasPrefix("=?UTF-8?B?"))
        #expect(to.hasSuffix(" <zoe@example.com>"))
        #expect(MailDecoding.encodedWords(to) == "Zoë Lévêque <zoe@example.com>")

        let nameless = try Self.message(to: EmailAddress(Self.mailbox("zoe@example.com"), displayName: " \r\n "))
        #expect(ReadMail(MIMEMessage.render(nameless)).header("To") == "<zoe@example.com>")
    }

    @Test(arguments: [
        "Invoice\r\nBcc: victim@example.com", "Invoice\nBcc: victim@example.com", "Invoice\rBcc: victim@example.com",
        "Inv\u{0}oice\r\n\r\n<html>injected body", "Fatura\u{2028}Bcc: victim@example.com", "Fatura disponível\r\nBcc: victim@example.com",
    ])
    func lineBreaksInSubjectsAndNamesCannotAddHeaders(hostile: String) throws {
        let message = try Self.message(
            from: EmailAddress(Self.mailbox("billing@tally.example"), displayName: hostile),
            to: EmailAddress(Self.mailbox("ana@example.com"), displayName: hostile),
            subject: hostile)
        let bytes = MIMEMessage.render(message)
        let mail = ReadMail(bytes)
        #expect(mail.headers.map(\.name) == ["Date", "From", "To", "Subject", "Message-ID", "X-Tally-Delivery", "MIME-Version", "Content-Type"])
        #expect(mail.headers(named: "Bcc").isEmpty)
        let headerSection = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n\r\n")[0]
        for line in headerSection.components(separatedBy: "\r\n").dropFirst() {
            #expect(!line.hasPrefix("Bcc"), "an injected header line: \(line)")
        }
        // What the reader sees is the text on one line.
        let subjectHeader = try #require(mail.header("Subject"))
        let subject = MailDecoding.encodedWords(subjectHeader)
        #expect(!subject.contains("\r") && !subject.contains("\n"))
        #expect(subject.contains("Bcc: victim@example.com") || subject.contains("injected body"))
    }

    // MARK: Date

    @Test(arguments: [
        (0.0, "Thu, 01 Jan 1970 00:00:00 +0000"),
        (1_748_959_509.75, "Tue, 03 Jun 2025 14:05:09 +0000"),
        (1_709_164_800, "Thu, 29 Feb 2024 00:00:00 +0000"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
        (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 +0000"),
        (-1, "Wed, 31 Dec 1969 23:59:59 +0000"),
    ])
    func datesAreWrittenInRFC5322FormInUTC(seconds: Double, expected: String) {
        #expect(MessageDate.format(Date(timeIntervalSince1970: seconds)) == expected)
    }

    // MARK: Quoted-printable

    @Test func quotedPrintableEncodesWhatMustBeEncoded() {
        #expect(QuotedPrintable.encode("a=b") == "a=3Db")
        #expect(QuotedPrintable.encode("end \nend\t") == "end=20\r\nend=09")
        #expect(QuotedPrintable.encode("café") == "caf=C3=A9")
        #expect(QuotedPrintable.encode(".dot stays") == ".dot stays")
        let long = QuotedPrintable.encode(String(repeating: "a", count: 200))
        #expect(long.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 76 })
        #expect(String(decoding: MailDecoding.quotedPrintable(long), as: UTF8.self) == String(repeating: "a", count: 200))
    }

    @Test func quotedPrintableRoundTripsAnyText() {
        let pieces = ["a", " ", "\t", "=", ".", "é", "😀", "\n", "\r\n", "\r", String(repeating: "x", count: 80), "=_", "€"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let text = (0..<Int.random(in: 0...60, using: &generator)).map { _ in pieces.randomElement(using: &generator) ?? "" }.joined()
            let encoded = QuotedPrintable.encode(text)
            let expected = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
                .replacingOccurrences(of: "\n", with: "\r\n")
            #expect(Array(expected.utf8) == MailDecoding.quotedPrintable(encoded), "\(text.debugDescription)")
            #expect(encoded.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 76 && !$0.hasSuffix(" ") && !$0.hasSuffix("\t") })
            #expect(!encoded.contains("=_"))
        }
    }

    // MARK: Dot-stuffing

    @Test func linesStartingWithADotGetAnotherDot() {
        let payload = SMTPDataPayload.encode(Array(".hidden\r\nok\r\n..two\r\nmid.dle\r\n".utf8))
        #expect(String(decoding: payload, as: UTF8.self) == "..hidden\r\nok\r\n...two\r\nmid.dle\r\n.\r\n")
    }

    @Test func aLineThatIsOnlyADotCannotEndTheData() {
        let payload = SMTPDataPayload.encode(Array("before\r\n.\r\nafter\r\n".utf8))
        #expect(String(decoding: payload, as: UTF8.self) == "before\r\n..\r\nafter\r\n.\r\n")
        #expect(String(decoding: SMTPDataPayload.encode(Array(".".utf8)), as: UTF8.self) == "..\r\n.\r\n")
        #expect(String(decoding: SMTPDataPayload.encode(Array("x\n.\n".utf8)), as: UTF8.self) == "x\r\n..\r\n.\r\n")
    }

    @Test func lineEndingsBecomeCRLFAndTheDataEndsWithCRLFDotCRLF() {
        #expect(String(decoding: SMTPDataPayload.encode(Array("a\nb\rc\r\nd".utf8)), as: UTF8.self) == "a\r\nb\r\nc\r\nd\r\n.\r\n")
        #expect(String(decoding: SMTPDataPayload.encode(Array("a\r\r\nb\n\n".utf8)), as: UTF8.self) == "a\r\n\r\nb\r\n\r\n.\r\n")
        #expect(String(decoding: SMTPDataPayload.encode(Array("\r.x".utf8)), as: UTF8.self) == "\r\n..x\r\n.\r\n")
        #expect(SMTPDataPayload.encode([]) == Array(".\r\n".utf8))
    }

    @Test func aRenderedMessageSurvivesDotStuffingAndUnstuffing() throws {
        let message = try Self.message(text: ".\n..\n.leading\nplain\n", html: ".<p>x</p>\n.")
        let rendered = MIMEMessage.render(message)
        let payload = SMTPDataPayload.encode(rendered)
        #expect(Array(payload.suffix(5)) == Array("\r\n.\r\n".utf8))
        // What a server does: cut the terminator, drop one leading dot per line.
        let body = String(decoding: payload.dropLast(3), as: UTF8.self)
        let unstuffed = body.components(separatedBy: "\r\n").map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 }.joined(separator: "\r\n")
        #expect(Array(unstuffed.utf8) == rendered)
    }

    // MARK: Replies and extensions

    @Test func multiLineRepliesAreReadWhole() throws {
        let bytes = Array("250-tally-smtp-sink\r\n250-SIZE 1000\r\n250-STARTTLS\r\n250 AUTH LOGIN PLAIN\r\n354 next".utf8)
        let parsed = try #require(try SMTPReplyParser.parse(bytes))
        #expect(parsed.reply.code == 250)
        #expect(parsed.reply.lines == ["tally-smtp-sink", "SIZE 1000", "STARTTLS", "AUTH LOGIN PLAIN"])
        #expect(parsed.consumed == bytes.count - "354 next".utf8.count)
        #expect(parsed.reply.firstLine == "250 tally-smtp-sink")
    }

    @Test func partialRepliesWaitForMoreBytes() throws {
        #expect(try SMTPReplyParser.parse(Array("250-first\r\n250 la".utf8)) == nil)
        #expect(try SMTPReplyParser.parse(Array("22".utf8)) == nil)
        #expect(try SMTPReplyParser.parse([]) == nil)
    }

    @Test func bareLineFeedsAndCodeOnlyLinesAreAccepted() throws {
        #expect(try SMTPReplyParser.parse(Array("220 ready\n".utf8))?.reply == SMTPReply(code: 220, lines: ["ready"]))
        #expect(try SMTPReplyParser.parse(Array("250\r\n".utf8))?.reply == SMTPReply(code: 250, lines: [""]))
    }

    @Test(arguments: [
        ("HTTP/1.1 400 Bad Request\r\n", SMTPReplyDecodingError.malformedLine), ("25 short\r\n", .malformedLine), ("650 nope\r\n", .malformedLine),
        ("250_x\r\n", .malformedLine), ("250-a\r\n251 b\r\n", .inconsistentCodes),
    ])
    func malformedRepliesAreRefused(text: String, error: SMTPReplyDecodingError) {
        #expect(throws: error) { try SMTPReplyParser.parse(Array(text.utf8)) }
    }

    @Test func endlessRepliesAreRefused() {
        #expect(throws: SMTPReplyDecodingError.lineTooLong) { try SMTPReplyParser.parse(Array(repeating: UInt8(ascii: "2"), count: 5000)) }
        let many = Array(String(repeating: "250-x\r\n", count: 100).utf8)
        #expect(throws: SMTPReplyDecodingError.tooManyLines) { try SMTPReplyParser.parse(many) }
    }

    @Test func ehloExtensionsAreRead() {
        let reply = SMTPReply(code: 250, lines: ["relay.example", "size 35882577", "8BITMIME", "STARTTLS", "AUTH  LOGIN PLAIN", "AUTH=CRAM-MD5", "PIPELINING"])
        let extensions = SMTPExtensions(ehloReply: reply)
        #expect(extensions.startTLS)
        #expect(extensions.authMechanisms == ["LOGIN", "PLAIN", "CRAM-MD5"])
        #expect(extensions.size && extensions.maximumMessageSize == 35_882_577)
        #expect(extensions.eightBitMIME)

        let bare = SMTPExtensions(ehloReply: SMTPReply(code: 250, lines: ["relay.example STARTTLS", "SIZE 0", "SIZE"]))
        #expect(!bare.startTLS, "the greeting line is not an extension")
        #expect(bare.size && bare.maximumMessageSize == nil)
    }

    // MARK: What a detail may say

    @Test func detailsNeverCarryAddressesOrCredentials() {
        let password = RedactedSecret("s3cret-Pa55")
        let redactor = SMTPDetailRedactor(username: "mailer@tally.example", password: password)
        let plainBlob = SMTPAuthBlob.plain(username: "mailer@tally.example", password: "s3cret-Pa55")
        let lines = [
            "550 5.1.1 <Ana.Souza@Example.com>: Recipient address rejected",
            "550 5.1.1 ana.souza@example.com... User unknown",
            "535 5.7.8 bad credentials for s3cret-Pa55",
            "501 cannot decode \(plainBlob)",
            "334 \(SMTPAuthBlob.login("s3cret-Pa55"))",
        ]
        for line in lines {
            let detail = redactor.detail(line)
            #expect(!detail.contains("@"), "\(detail)")
            #expect(!detail.contains("s3cret"), "\(detail)")
            #expect(!detail.contains(plainBlob) && !detail.contains(SMTPAuthBlob.login("s3cret-Pa55")), "\(detail)")
            #expect(detail.hasPrefix(String(line.prefix(3))))
        }
        #expect(redactor.detail("451 " + String(repeating: "x", count: 500) + "\r\nsecond").count == SMTPDetailRedactor.maximumLength)
        #expect(redactor.detail("250 ok\r\nBcc: x") == "250 ok Bcc: x")
    }

    @Test func relaySettingsNeverPrintThePassword() {
        let relay = SMTPRelay(name: "primary", host: "smtp.example.com", username: "mailer", password: RedactedSecret("s3cret-Pa55"), heloName: "tally.example")
        let fields = Mirror(reflecting: relay).children.map { $0.value }
        let texts = [String(describing: relay), String(reflecting: relay), "\(relay.password as Any)", String(describing: fields)]
        for text in texts {
            #expect(!text.contains("s3cret"), "\(text)")
        }
        #expect(relay.provider == "smtp:primary")
        #expect(relay.misconfiguration == nil)
        #expect(SMTPRelay(name: "x", host: "h", heloName: "bad name").misconfiguration != nil)
        #expect(SMTPRelay(name: "x", host: "h", username: "only", heloName: "ok").misconfiguration != nil)
        #expect(SMTPRelay(name: "x", host: "127.0.0.1", heloName: "ok").isLoopback)
        #expect(SMTPRelay(name: "x", host: "localhost", heloName: "ok").isLoopback)
        #expect(!SMTPRelay(name: "x", host: "127.example.com", heloName: "ok").isLoopback)
        #expect(SMTPRelay(name: "x", host: "127.0.0.1", heloName: "ok").tlsServerHostname == nil)
        #expect(SMTPRelay(name: "x", host: "smtp.example.com", heloName: "ok").tlsServerHostname == "smtp.example.com")
    }
}
