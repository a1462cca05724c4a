import Foundation

/// One message in one locale, written with named variables.
///
/// A variable is written `{{name}}`, where `name` is `[a-z][a-z0-9_]*`; spaces or tabs may pad it
/// inside the braces (`{{ name }}`). A `{{` that does not open such a placeholder, or a `}}` that
/// closes none, is a template error (`TemplateError.malformedPlaceholder`), so a typo like
/// `{name}}` or `{{Name}}` is caught by the test over every shipped template instead of reaching a
/// customer. The variables a template needs are every name in its subject, text and HTML, plus the
/// WhatsApp template's body variables (`TemplateRenderer.requiredVariables(of:)`); the renderer
/// refuses to produce a message while any of them is missing.
struct NotificationTemplate: Sendable, Equatable, CustomStringConvertible {
    /// What requests name in `template_key`, e.g. `dunning.payment_failed`.
    var key: String
    /// BCP 47, e.g. `en`, `pt-BR`.
    var locale: String
    /// The email subject. Rendered on one line: line breaks and control characters in it (or in a
    /// value) become spaces.
    var subject: String
    /// The plain-text part; values are inserted as they are.
    var text: String
    /// The HTML part; values are HTML-escaped, the template's own markup is not.
    var html: String
    /// The Meta-approved template a WhatsApp delivery sends, when the template has one.
    var whatsApp: WhatsAppTemplateReference?
    /// A value for every variable, for previews (`POST …/templates/{key}/preview`) and tests.
    var sampleVariables: [String: String]

    init(
        key: String, locale: String, subject: String, text: String, html: String, whatsApp: WhatsAppTemplateReference? = nil,
        sampleVariables: [String: String]
    ) {
        self.key = key
        self.locale = locale
        self.subject = subject
        self.text = text
        self.html = html
        self.whatsApp = whatsApp
        self.sampleVariables = sampleVariables
    }

    var description: String { "\(key) [\(locale)]" }
}

/// A WhatsApp message template as registered with Meta (business-initiated messages must use an
/// approved template), and which of our variables fill it.
struct WhatsAppTemplateReference: Sendable, Equatable {
    /// The template's name in Meta's WhatsApp Manager, e.g. `dunning_payment_failed`.
    var name: String
    /// Meta's language code for the approved translation, e.g. `en`, `pt_BR`.
    var languageCode: String
    /// Our variable names in the order of the Meta template's body parameters: the first fills
    /// `{{1}}`, the second `{{2}}`, and so on.
    var bodyVariables: [String]

    init(name: String, languageCode: String, bodyVariables: [String]) {
        self.name = name
        self.languageCode = languageCode
        self.bodyVariables = bodyVariables
    }
}

/// Which part of a template an error is in.
enum TemplatePart: String, Sendable, Equatable, CaseIterable {
    case subject
    case text
    case html
    /// The WhatsApp template reference's body variables.
    case whatsApp = "whatsapp"
}
