import Foundation

/// The templates notifications can send, found by key and locale.
///
/// **Locale fallback.** A request's locale is compared case-insensitively, with `_` read as `-`
/// (`pt_br` is `pt-BR`). For a key, the first of these that exists is used:
/// 1. the exact locale (`pt-BR`);
/// 2. the bare language (`pt`);
/// 3. another region of the same language, the alphabetically first if there are several
///    (`pt-PT` gets `pt-BR` while no `pt` or `pt-PT` template exists: a reader of one variant of
///    a language is better served by another variant than by a different language);
/// 4. the default locale, `en`.
///
/// A request without a locale gets `en`. Every key must exist in `en`: building a catalog
/// without it fails (`TemplateError.missingLocale`), so step 4 always finds a template.
struct TemplateCatalog: Sendable {
    /// The locale every key ships in and every lookup falls back to.
    static let defaultLocale = "en"

    /// Every template the service ships, in the order the families list them.
    static let shippedTemplates: [NotificationTemplate] =
        DunningTemplates.all + InvoiceTemplates.all + EngagementTemplates.all + SurveyTemplates.all

    /// The catalog of the shipped templates. Fails only if a shipped template is broken, which
    /// `TemplateTests` rules out for every build.
    static func shipped() throws(TemplateError) -> TemplateCatalog {
        try TemplateCatalog(templates: shippedTemplates)
    }

    /// Every template, in the order given.
    let templates: [NotificationTemplate]
    /// One entry per key, sorted by key: what `GET …/templates` lists.
    let listing: [TemplateListing]
    private let variantsByKey: [String: [NotificationTemplate]]

    /// A catalog of `templates`. Refuses a template with a malformed placeholder, two templates
    /// with the same key and locale, and a key without a `defaultLocale` version.
    init(templates: [NotificationTemplate]) throws(TemplateError) {
        var variantsByKey: [String: [NotificationTemplate]] = [:]
        var seen = Set<String>()
        for template in templates {
            _ = try TemplateRenderer.requiredVariables(of: template)
            guard seen.insert(template.key + "\n" + Self.comparable(template.locale)).inserted else {
                throw TemplateError.duplicateTemplate(key: template.key, locale: template.locale)
            }
            variantsByKey[template.key, default: []].append(template)
        }
        var listing: [TemplateListing] = []
        for key in variantsByKey.keys.sorted() {
            let variants = variantsByKey[key] ?? []
            guard let standard = variants.first(where: { Self.comparable($0.locale) == Self.comparable(Self.defaultLocale) }) else {
                throw TemplateError.missingLocale(key: key, locale: Self.defaultLocale)
            }
            let required = try TemplateRenderer.requiredVariables(of: standard)
            listing.append(
                TemplateListing(
                    key: key, locales: variants.map(\.locale).sorted(), requiredVariables: required, sampleVariables: standard.sampleVariables,
                    whatsAppTemplate: standard.whatsApp?.name))
        }
        self.templates = templates
        self.listing = listing
        self.variantsByKey = variantsByKey
    }

    /// Every key, sorted.
    var keys: [String] { listing.map(\.key) }

    /// The template for `key` in the locale nearest to `locale` (see the type's fallback rule);
    /// its `locale` says which one was chosen. An unknown key is `TemplateError.unknownTemplate`.
    func template(key: String, locale: String?) throws(TemplateError) -> NotificationTemplate {
        guard let variants = variantsByKey[key] else { throw TemplateError.unknownTemplate(key: key) }
        let wanted = Self.comparable(locale ?? "")
        if !wanted.isEmpty {
            if let exact = variants.first(where: { Self.comparable($0.locale) == wanted }) { return exact }
            let language = Self.language(of: wanted)
            if let general = variants.first(where: { Self.comparable($0.locale) == language }) { return general }
            let sameLanguage = variants.filter { Self.language(of: Self.comparable($0.locale)) == language }
            if let sibling = sameLanguage.min(by: { Self.comparable($0.locale) < Self.comparable($1.locale) }) { return sibling }
        }
        if let standard = variants.first(where: { Self.comparable($0.locale) == Self.comparable(Self.defaultLocale) }) { return standard }
        throw TemplateError.missingLocale(key: key, locale: Self.defaultLocale)
    }

    /// `key` in the nearest locale, rendered with `variables`.
    func render(key: String, locale: String?, variables: [String: String]) throws(TemplateError) -> RenderedMessage {
        let chosen = try template(key: key, locale: locale)
        return try TemplateRenderer.render(chosen, with: variables)
    }

    /// A locale tag in the form lookups compare: trimmed, lower case, `-` between subtags.
    static func comparable(_ locale: String) -> String {
        locale.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "-").lowercased()
    }

    /// The language subtag of a comparable tag (`pt` of `pt-br`).
    private static func language(of comparableLocale: String) -> String {
        String(comparableLocale.prefix { $0 != "-" })
    }
}

/// One template key as `GET …/templates` lists it.
struct TemplateListing: Sendable, Equatable {
    var key: String
    /// Sorted, e.g. `["en", "pt-BR"]`.
    var locales: [String]
    /// Every variable a request must supply, sorted (the same in every locale; a test checks it).
    var requiredVariables: [String]
    /// Values for a preview, from the default-locale template.
    var sampleVariables: [String: String]
    /// The Meta template name a WhatsApp delivery uses, nil when the template is email-only.
    var whatsAppTemplate: String?
}
