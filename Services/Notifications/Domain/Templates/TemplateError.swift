/// Why a template could not be found or rendered. Every case names what to fix, and none carries
/// a variable's value (values may be personal data): only variable names, template keys, locales
/// and the template's own text.
enum TemplateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The template names variables the request did not supply: all of them, sorted. Nothing was
    /// rendered.
    case missingVariables(names: [String])
    /// A `{{` that opens no valid placeholder, or a stray `}}`; `excerpt` is the template text from
    /// the offending braces on (at most 24 characters).
    case malformedPlaceholder(part: TemplatePart, excerpt: String)
    /// No template has this key.
    case unknownTemplate(key: String)
    /// The key exists but not in the catalog's default locale, so a request in another language
    /// would have nothing to fall back to. Only a catalog under construction reports it.
    case missingLocale(key: String, locale: String)
    /// Two templates share a key and locale. Only a catalog under construction reports it.
    case duplicateTemplate(key: String, locale: String)

    /// A stable, lower-case reason code for delivery rows, events and problem types.
    var reason: String {
        switch self {
        case .missingVariables: "template_variable_missing"
        case .malformedPlaceholder: "template_malformed"
        case .unknownTemplate: "template_unknown"
        case .missingLocale: "template_locale_missing"
        case .duplicateTemplate: "template_duplicate"
        }
    }

    var description: String {
        switch self {
        case .missingVariables(let names): "missing template variables: \(names.joined(separator: ", "))"
        case .malformedPlaceholder(let part, let excerpt): "malformed placeholder in the \(part.rawValue) part at '\(excerpt)'"
        case .unknownTemplate(let key): "no template with key '\(key)'"
        case .missingLocale(let key, let locale): "template '\(key)' has no '\(locale)' version to fall back to"
        case .duplicateTemplate(let key, let locale): "template '\(key)' is defined twice for locale '\(locale)'"
        }
    }
}
