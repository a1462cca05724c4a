/// The HTML frame the shipped emails share: one column at most 560 px wide, inline styles only
/// (many mail clients drop `<style>` blocks), dark text on white with no background colours, and
/// every link also written out in full, so a printed copy still carries it.
enum EmailLayout {
    /// The style of a body paragraph.
    static let paragraph = "margin:0 0 16px 0;"
    /// The style of the closing small print.
    static let footnote = "margin:24px 0 0 0;font-size:13px;color:#57606a;"
    /// What `button` says under the button, per language.
    static let linkHintEnglish = "If the button does not work, copy this address into your browser:"
    static let linkHintPortuguese = "Se o botão não funcionar, copie e cole este endereço no navegador:"

    private static let column =
        "max-width:560px;margin:0 auto;padding:32px 24px;" + "font-family:Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#1f2328;"
    private static let buttonLink =
        "display:inline-block;padding:12px 20px;border:2px solid #1a4fd6;border-radius:4px;" + "color:#1a4fd6;font-weight:bold;text-decoration:none;"
    private static let plainLink = "color:#1a4fd6;word-break:break-all;"
    private static let hintStyle = "margin:0 0 16px 0;font-size:13px;color:#57606a;"
    private static let labelCell = "padding:4px 16px 4px 0;color:#57606a;"
    private static let valueCell = "padding:4px 0;font-weight:bold;"

    /// A whole HTML document in `language` around `content`. `title` is HTML already.
    static func document(language: String, title: String, content: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="\(language)">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title)</title>
        </head>
        <body style="margin:0;padding:0;background-color:#ffffff;">
        <div style="\(column)">
        \(content)
        </div>
        </body>
        </html>
        """
    }

    /// A two-column table of labels and values (invoice number, amount, due date).
    static func details(_ rows: [(String, String)]) -> String {
        let lines = rows.map { row in
            "<tr><td style=\"\(labelCell)\">\(row.0)</td><td style=\"\(valueCell)\">\(row.1)</td></tr>"
        }
        return "<table role=\"presentation\" style=\"border-collapse:collapse;margin:0 0 16px 0;\">\n" + lines.joined(separator: "\n") + "\n</table>"
    }

    /// A button-like link to `url`, followed by `hint` and the address written out.
    static func button(url: String, label: String, hint: String) -> String {
        """
        <p style="margin:24px 0;"><a href="\(url)" style="\(buttonLink)">\(label)</a></p>
        <p style="\(hintStyle)">\(hint)<br><a href="\(url)" style="\(plainLink)">\(url)</a></p>
        """
    }
}

extension NotificationTemplate {
    /// An email template whose HTML part is `content` inside `EmailLayout.document`, titled with
    /// the subject.
    static func email(
        key: String, locale: String, subject: String, text: String, content: String, whatsApp: WhatsAppTemplateReference? = nil,
        sampleVariables: [String: String]
    ) -> NotificationTemplate {
        NotificationTemplate(
            key: key, locale: locale, subject: subject, text: text,
            html: EmailLayout.document(language: locale, title: TemplateRenderer.escapeHTML(subject), content: content), whatsApp: whatsApp,
            sampleVariables: sampleVariables)
    }
}
