/// The RFC 5322 / MIME bytes of an `EmailMessage`: what goes after SMTP `DATA` (before
/// dot-stuffing, see `SMTPDataPayload`).
///
/// Guarantees:
/// - pure and deterministic: the same message gives the same bytes, so a resend is identical
///   (the same `Message-ID`, `X-Tally-Delivery` and boundary);
/// - 7-bit ASCII with CRLF line endings everywhere, no bare CR or LF, and no line longer than
///   78 characters (never beyond 998) except where one token is longer: a very long address, or
///   the `Message-ID` / `X-Tally-Delivery` of a delivery id over ~45 characters (a UUID fits);
/// - `multipart/alternative` with a `text/plain` then a `text/html` part (the last is the
///   preferred one), both UTF-8 and quoted-printable;
/// - the boundary is `=_` + the delivery id; quoted-printable output never contains `=_`, and
///   the part headers are fixed text, so the boundary cannot occur inside the content;
/// - headers: `Date`, `From`, `To`, `Subject`, `Message-ID`, `X-Tally-Delivery`, `MIME-Version`,
///   `Content-Type`; none can be forged or cut short by a subject or display name (see
///   `HeaderText`).
enum MIMEMessage {
    /// The delivery's boundary: `=_{deliveryID}`, at most 66 characters (MIME allows 70).
    static func boundary(for message: EmailMessage) -> String { "=_" + message.deliveryID }

    /// The header section, each field ending with CRLF, without the blank line that ends it.
    static func headers(for message: EmailMessage) -> String {
        let fields = [
            "Date: " + MessageDate.format(message.date),
            HeaderText.address("From", message.from),
            HeaderText.address("To", message.to),
            HeaderText.unstructured("Subject", message.subject),
            "Message-ID: " + message.messageID,
            "X-Tally-Delivery: " + message.deliveryID,
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative;\r\n boundary=\"\(boundary(for: message))\"",
        ]
        return fields.map { $0 + "\r\n" }.joined()
    }

    static func render(_ message: EmailMessage) -> [UInt8] {
        let delimiter = "--" + boundary(for: message)
        var text = headers(for: message)
        text += "\r\n"
        text += "This is a multi-part message in MIME format.\r\n"
        for (subtype, body) in [("plain", message.textBody), ("html", message.htmlBody)] {
            text += "\r\n" + delimiter + "\r\n"
            text += "Content-Type: text/\(subtype); charset=utf-8\r\n"
            text += "Content-Transfer-Encoding: quoted-printable\r\n"
            text += "\r\n"
            text += QuotedPrintable.encode(body)
        }
        text += "\r\n" + delimiter + "--\r\n"
        return Array(text.utf8)
    }
}
