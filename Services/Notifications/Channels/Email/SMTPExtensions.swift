/// What a server's EHLO reply advertised (RFC 5321 §4.1.1.1): its first line greets, each later
/// line is a keyword and its parameters, case-insensitive.
///
/// Only what the client uses is kept. After STARTTLS the extensions are read again from the new
/// EHLO and the old ones are forgotten (RFC 3207 §4.2): nothing learnt in the clear is trusted.
struct SMTPExtensions: Sendable, Equatable {
    /// `STARTTLS` (RFC 3207).
    var startTLS = false
    /// `AUTH` mechanisms, upper-cased (RFC 4954); also the old `AUTH=LOGIN PLAIN` form.
    var authMechanisms: Set<String> = []
    /// `SIZE` was advertised (RFC 1870), so `MAIL FROM` may carry `SIZE=`.
    var size = false
    /// The largest message the server takes, when `SIZE` named one above zero.
    var maximumMessageSize: Int?
    /// `8BITMIME` (RFC 6152). Tally's messages are 7-bit, so this is informational.
    var eightBitMIME = false

    /// What a server that only answered HELO offers: nothing.
    static let noneAdvertised = SMTPExtensions()

    init() {}

    init(ehloReply: SMTPReply) {
        for line in ehloReply.lines.dropFirst() {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { $0.uppercased() }
            guard let keyword = words.first else { continue }
            let parameters = words.dropFirst()
            switch keyword {
            case "STARTTLS":
                startTLS = true
            case "AUTH":
                authMechanisms.formUnion(parameters)
            case _ where keyword.hasPrefix("AUTH="):
                authMechanisms.insert(String(keyword.dropFirst(5)))
                authMechanisms.formUnion(parameters)
            case "SIZE":
                size = true
                if let limit = parameters.first.flatMap({ Int($0) }), limit > 0 { maximumMessageSize = limit }
            case "8BITMIME":
                eightBitMIME = true
            default:
                continue
            }
        }
        authMechanisms.remove("")
    }
}
