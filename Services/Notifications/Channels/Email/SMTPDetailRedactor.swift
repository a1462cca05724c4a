import Foundation
import ServiceRuntime

/// Turns a server's reply line into an `AttemptResult.detail` that is safe to store and show.
///
/// Guarantees of `detail(_:)`: one line (control characters become spaces); every word that holds
/// an `@` — any email address, however the server wrote it (`<Bob@x.com>:`, `bob@x.com...`) — is
/// `[redacted]`; so are the password and every AUTH blob this relay's credentials
/// produce; at most 200 characters.
struct SMTPDetailRedactor: Sendable {
    static let maximumLength = 200

    /// Exact strings never to repeat: the credentials and their base64 forms as AUTH sends them.
    private let secrets: [String]

    init(username: String?, password: RedactedSecret?) {
        var secrets: [String] = []
        if let password {
            secrets += [password.value, SMTPAuthBlob.login(password.value)]
        }
        if let username {
            // The username itself is no secret (and a short one would garble every detail); its
            // base64 form is, as part of what AUTH sent.
            secrets.append(SMTPAuthBlob.login(username))
            if let password { secrets.append(SMTPAuthBlob.plain(username: username, password: password.value)) }
        }
        // Longest first, so a blob is not half-replaced through a shorter secret inside it.
        self.secrets = secrets.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    func detail(_ text: String) -> String {
        var line = HeaderText.cleaned(text)
        for secret in secrets {
            line = line.replacingOccurrences(of: secret, with: "[redacted]")
        }
        line = Self.redactingAddresses(line)
        return String(line.prefix(Self.maximumLength))
    }

    /// `text` with each word containing `@` replaced by `[redacted]`; words end at whitespace and
    /// at the punctuation that surrounds addresses in SMTP replies.
    static func redactingAddresses(_ text: String) -> String {
        var result = ""
        var word = ""
        for character in text {
            if wordDelimiters.contains(character) {
                result += word.contains("@") ? "[redacted]" : word
                word = ""
                result.append(character)
            } else {
                word.append(character)
            }
        }
        result += word.contains("@") ? "[redacted]" : word
        return result
    }

    private static let wordDelimiters: Set<Character> = [" ", "\t", "<", ">", "(", ")", "[", "]", "\"", "'", ",", ";", ":"]
}

/// The base64 strings AUTH sends (RFC 4954 PLAIN, RFC 4616; the LOGIN mechanism's prompts).
enum SMTPAuthBlob {
    /// `base64("\0" + username + "\0" + password)`: the PLAIN initial response.
    static func plain(username: String, password: String) -> String {
        Data(("\u{0}" + username + "\u{0}" + password).utf8).base64EncodedString()
    }

    /// `base64(text)`: one answer to a LOGIN prompt.
    static func login(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }
}
