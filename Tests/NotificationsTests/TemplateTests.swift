import Contracts
import Foundation
import TallyTestSupport
import Testing

@testable import Notifications

/// The shipped templates, the catalog's locale fallback and the renderer's guarantees, as plain
/// functions.
@Suite("Notification templates")
struct TemplateTests {
    /// The templates the other services request; each ships in every locale of `shippedLocales`.
    static let shippedKeys = [
        "dunning.payment_failed", "dunning.reminder", "dunning.access_blocked", "dunning.final_notice", "invoice.link", "installment.overdue", "engagement.day_7",
        "engagement.day_14",
        "engagement.day_30", "engagement.day_60", "engagement.day_90", "nps.day_45",
    ]
    static let shippedLocales = ["en", "pt-BR"]

    /// A one-variable template for the renderer's rules.
    static func plain(
        key: String = "test.plain", locale: String = "en", subject: String = "{{value}}", text: String = "{{value}}", html: String = "<p>{{value}}</p>",
        whatsApp: WhatsAppTemplateReference? = nil
    ) -> NotificationTemplate {
        NotificationTemplate(key: key, locale: locale, subject: subject, text: text, html: html, whatsApp: whatsApp, sampleVariables: ["value": "x"])
    }

    // MARK: The shipped templates

    @Test func theCatalogShipsEveryRequestedTemplateInEveryLocale() throws {
        let catalog = try TemplateCatalog.shipped()
        #expect(catalog.keys == Self.shippedKeys.sorted())
        #expect(catalog.templates.count == Self.shippedKeys.count * Self.shippedLocales.count)
        for entry in catalog.listing {
            #expect(entry.locales == Self.shippedLocales, "\(entry.key)")
        }
    }

    @Test(arguments: TemplateCatalog.shippedTemplates)
    func everyShippedTemplateRendersWithItsSampleVariables(_ template: NotificationTemplate) throws {
        let required = try TemplateRenderer.requiredVariables(of: template)
        #expect(Set(template.sampleVariables.keys) == Set(required), "\(template): the samples are exactly the variables it needs")
        let message = try TemplateRenderer.render(template, with: template.sampleVariables)
        for part in [message.subject, message.text, message.html] {
            #expect(!part.isEmpty, "\(template)")
            #expect(!part.contains("{{") && !part.contains("}}"), "\(template): a placeholder survived")
        }
        #expect(message.locale == template.locale)
        #expect(message.html.hasPrefix("<!DOCTYPE html>"))
        #expect(message.html.contains("<html lang=\"\(template.locale)\">"))
        if let whatsApp = template.whatsApp {
            #expect(message.whatsApp?.bodyParameters == whatsApp.bodyVariables.map { template.sampleVariables[$0] ?? "?" })
        }
    }

    @Test(arguments: TemplateTests.shippedKeys, TemplateTests.shippedLocales)
    func everyKeyHasTheSameVariablesInEveryLocale(key: String, locale: String) throws {
        let catalog = try TemplateCatalog.shipped()
        let template = try catalog.template(key: key, locale: locale)
        let english = try catalog.template(key: key, locale: TemplateCatalog.defaultLocale)
        #expect(template.key == key)
        #expect(template.locale == locale, "the exact locale ships, no fallback")
        let required = try TemplateRenderer.requiredVariables(of: template)
        let englishRequired = try TemplateRenderer.requiredVariables(of: english)
        #expect(required == englishRequired, "a requester cannot know which locale is chosen")
        #expect(required.contains("customer_name"))
        #expect(template.whatsApp?.name == english.whatsApp?.name)
        if let whatsApp = template.whatsApp {
            #expect(Set(whatsApp.bodyVariables) == Set(required), "the WhatsApp body carries every variable once")
            #expect(whatsApp.bodyVariables.count == Set(whatsApp.bodyVariables).count)
            #expect(whatsApp.languageCode == locale.replacingOccurrences(of: "-", with: "_"))
        }
    }

    @Test func theListingShowsEachKeyWithItsLocalesVariablesAndSamples() throws {
        let catalog = try TemplateCatalog.shipped()
        let dunning = try #require(catalog.listing.first(where: { $0.key == "dunning.payment_failed" }))
        #expect(dunning.locales == ["en", "pt-BR"])
        #expect(dunning.requiredVariables == ["amount", "customer_name", "due_date", "invoice_number", "pay_url"])
        #expect(Set(dunning.sampleVariables.keys) == Set(dunning.requiredVariables))
        #expect(dunning.whatsAppTemplate == "dunning_payment_failed")
        let invoice = try #require(catalog.listing.first(where: { $0.key == "invoice.link" }))
        #expect(invoice.requiredVariables == ["amount", "customer_name", "expires_at", "invoice_number", "invoice_url"])
        let survey = try #require(catalog.listing.first(where: { $0.key == "nps.day_45" }))
        #expect(survey.requiredVariables == ["customer_name", "product_name", "survey_url"])
        #expect(survey.whatsAppTemplate == nil)
        #expect(catalog.listing.map(\.key) == catalog.keys)
    }

    @Test func theGoldenRequestRendersOnceTheContactsNameIsAdded() throws {
        let request = try TestEvents.fixture(NotificationRequested.self).data
        let template = try TemplateCatalog.shipped().template(key: request.templateKey, locale: request.locale)
        #expect(template.locale == "pt-BR")
        #expect(throws: TemplateError.missingVariables(names: ["customer_name"]), "the name comes from the contact, not the request") {
            try TemplateRenderer.render(template, with: request.variables)
        }
        var variables = request.variables
        variables["customer_name"] = "Ana Silva"
        let message = try TemplateRenderer.render(template, with: variables)
        #expect(message.subject == "Falha no pagamento da fatura QTALLY-0042")
        #expect(message.text.hasPrefix("Olá, Ana Silva,\n\nTentamos cobrar R$ 149,90 referente à fatura QTALLY-0042"))
        #expect(message.html.contains("href=\"https://invoice.stripe.com/i/acct_1QTally/in_1QTallyInv\""))
    }

    // MARK: Rendering

    @Test func aMissingVariableFailsTheRenderNamingEveryMissingOne() throws {
        let template = try TemplateCatalog.shipped().template(key: "dunning.payment_failed", locale: "en")
        let variables = template.sampleVariables.filter { $0.key != "pay_url" && $0.key != "customer_name" }
        #expect(throws: TemplateError.missingVariables(names: ["customer_name", "pay_url"])) {
            try TemplateRenderer.render(template, with: variables)
        }
        #expect(throws: TemplateError.missingVariables(names: ["value"])) { try TemplateRenderer.render(Self.plain(), with: [:]) }
        #expect(TemplateError.missingVariables(names: ["pay_url"]).reason == "template_variable_missing")
    }

    @Test func valuesAreEscapedInTheHTMLPartOnly() throws {
        let value = #"<script>alert("hi") & 'bye'</script>"#
        let message = try TemplateRenderer.render(Self.plain(), with: ["value": value])
        #expect(message.html == "<p>&lt;script&gt;alert(&quot;hi&quot;) &amp; &#39;bye&#39;&lt;/script&gt;</p>")
        #expect(message.text == value)
        #expect(message.subject == value)
    }

    @Test func aValueCannotLeaveAnAttribute() throws {
        let template = Self.plain(html: "<a href=\"{{value}}\">pay</a>")
        let message = try TemplateRenderer.render(template, with: ["value": "https://x.example/\" onclick=\"steal()"])
        #expect(message.html == "<a href=\"https://x.example/&quot; onclick=&quot;steal()\">pay</a>")
    }

    @Test func aCombiningMarkCannotHideAQuoteFromTheEscaper() {
        #expect(TemplateRenderer.escapeHTML("\"\u{301}") == "&quot;\u{301}")
        #expect(TemplateRenderer.escapeHTML("<\u{338}") == "&lt;\u{338}")
        #expect(TemplateRenderer.escapeHTML("Olá & adeus") == "Olá &amp; adeus")
    }

    @Test(arguments: ["\r\n", "\n", "\r", "\t", "\u{0}", "\u{1B}", "\u{7F}", "\u{85}", "\u{2028}", "\u{2029}"])
    func lineBreaksAndControlCharactersInTheSubjectBecomeSpaces(separator: String) throws {
        let value = "INV-1" + separator + "Bcc: someone@example.com"
        let message = try TemplateRenderer.render(Self.plain(subject: "Invoice {{value}}"), with: ["value": value])
        let spaces = String(repeating: " ", count: separator.unicodeScalars.count)
        #expect(message.subject == "Invoice INV-1" + spaces + "Bcc: someone@example.com")
        #expect(message.text == value, "the text part keeps the value as it is")
    }

    @Test func aValueIsInsertedOnceAndNeverReadAsAPlaceholder() throws {
        let message = try TemplateRenderer.render(Self.plain(), with: ["value": "{{secret}} {{ value }} }}"])
        #expect(message.text == "{{secret}} {{ value }} }}")
        #expect(message.subject == "{{secret}} {{ value }} }}")
    }

    @Test func extraVariablesAreIgnored() throws {
        let message = try TemplateRenderer.render(Self.plain(), with: ["value": "x", "unused": "y"])
        #expect(message.text == "x")
    }

    @Test func spacesAndTabsMayPadANameInsideTheBraces() throws {
        let template = Self.plain(text: "{{ value }}|{{\tvalue\t}}|{{value}}|{{  value}}")
        #expect(try TemplateRenderer.requiredVariables(of: template) == ["value"])
        #expect(try TemplateRenderer.render(template, with: ["value": "x"]).text == "x|x|x|x")
    }

    @Test func requiredVariablesAreEveryNameOnceSortedIncludingTheWhatsAppBody() throws {
        let whatsApp = WhatsAppTemplateReference(name: "t", languageCode: "en", bodyVariables: ["d", "a"])
        let template = Self.plain(subject: "{{b}} {{a}}", text: "{{c}} {{a}}", html: "{{b}}", whatsApp: whatsApp)
        #expect(try TemplateRenderer.requiredVariables(of: template) == ["a", "b", "c", "d"])
        #expect(throws: TemplateError.missingVariables(names: ["d"])) {
            try TemplateRenderer.render(template, with: ["a": "1", "b": "2", "c": "3"])
        }
    }

    @Test func theWhatsAppParametersFollowTheMetaTemplateOrderOnOneLineEach() throws {
        let template = try TemplateCatalog.shipped().template(key: "dunning.payment_failed", locale: "pt-BR")
        var variables = template.sampleVariables
        variables["customer_name"] = "Ana\nSilva"
        let message = try TemplateRenderer.render(template, with: variables)
        let expected = RenderedWhatsAppTemplate(
            name: "dunning_payment_failed", languageCode: "pt_BR",
            bodyParameters: ["Ana Silva", "R$ 149,90", "QTALLY-0042", "30/11/2026", "https://billing.example.com/pay/in_1QTallyInv"])
        #expect(message.whatsApp == expected)
    }

    // MARK: Malformed templates

    static let malformedSources: [(String, String)] = [
        ("Hi {{name", "{{name"),
        ("Hi {{}}", "{{}}"),
        ("Hi {{ }}", "{{ }}"),
        ("Hi {{ Name }}", "{{ Name }}"),
        ("Hi {{1st}}", "{{1st}}"),
        ("Hi {{na-me}}", "{{na-me}}"),
        ("Hi {{first name}}", "{{first name}}"),
        ("Hi {{name}", "{{name}"),
        ("Hi {{name } }", "{{name } }"),
        ("Hi {name}}", "}}"),
        ("Hi {{{name}}}", "{{{name}}}"),
        ("Hi {{name}}, and a dangling {{", "{{"),
        ("Hi {{ this is not a placeholder at all }}", "{{ this is not a placeho"),
    ]

    @Test(arguments: TemplateTests.malformedSources)
    func aMalformedPlaceholderIsATemplateError(source: String, excerpt: String) {
        let template = Self.plain(text: source)
        let expected = TemplateError.malformedPlaceholder(part: .text, excerpt: excerpt)
        #expect(throws: expected) { try TemplateRenderer.requiredVariables(of: template) }
        #expect(throws: expected, "never rendered, whatever the variables") {
            try TemplateRenderer.render(template, with: ["value": "x", "name": "y", "first": "z", "na": "w", "this": "v"])
        }
    }

    @Test func theErrorNamesThePartThatIsMalformed() {
        #expect(throws: TemplateError.malformedPlaceholder(part: .subject, excerpt: "{{ }}")) {
            try TemplateRenderer.requiredVariables(of: Self.plain(subject: "Hi {{ }}"))
        }
        #expect(throws: TemplateError.malformedPlaceholder(part: .html, excerpt: "{{value}</p>")) {
            try TemplateRenderer.requiredVariables(of: Self.plain(html: "<p>{{value}</p>"))
        }
        let template = Self.plain(whatsApp: WhatsAppTemplateReference(name: "t", languageCode: "en", bodyVariables: ["value", "Bad-Name"]))
        #expect(throws: TemplateError.malformedPlaceholder(part: .whatsApp, excerpt: "Bad-Name")) {
            try TemplateRenderer.requiredVariables(of: template)
        }
    }

    // MARK: The catalog

    static let localeFallbacks: [(String?, String)] = [
        ("pt-BR", "pt-BR"), ("pt_br", "pt-BR"), ("PT-br", "pt-BR"), (" pt-BR ", "pt-BR"), ("pt", "pt-BR"), ("pt-PT", "pt-BR"),
        ("pt-AO", "pt-BR"), ("en", "en"), ("en-GB", "en"), ("EN_us", "en"), ("de-DE", "en"), ("fr", "en"), ("", "en"), (nil, "en"),
    ]

    @Test(arguments: TemplateTests.localeFallbacks)
    func aLocaleFallsBackToItsLanguageThenToEnglish(requested: String?, chosen: String) throws {
        let catalog = try TemplateCatalog.shipped()
        for key in Self.shippedKeys {
            #expect(try catalog.template(key: key, locale: requested).locale == chosen, "\(key) for \(requested ?? "nil")")
        }
    }

    @Test func theBareLanguageComesBeforeAnotherRegionAndRegionsAreChosenAlphabetically() throws {
        let portuguese = try TemplateCatalog(templates: [Self.plain(locale: "en"), Self.plain(locale: "pt-BR"), Self.plain(locale: "pt")])
        #expect(try portuguese.template(key: "test.plain", locale: "pt-PT").locale == "pt")
        #expect(try portuguese.template(key: "test.plain", locale: "pt-BR").locale == "pt-BR")
        let spanish = try TemplateCatalog(templates: [Self.plain(locale: "es-MX"), Self.plain(locale: "en"), Self.plain(locale: "es-AR")])
        #expect(try spanish.template(key: "test.plain", locale: "es-ES").locale == "es-AR")
        #expect(try spanish.template(key: "test.plain", locale: "es").locale == "es-AR")
        #expect(try spanish.template(key: "test.plain", locale: "es-MX").locale == "es-MX")
    }

    @Test func anUnknownKeyIsATypedError() throws {
        let catalog = try TemplateCatalog.shipped()
        #expect(throws: TemplateError.unknownTemplate(key: "dunning.nope")) { try catalog.template(key: "dunning.nope", locale: "en") }
        #expect(throws: TemplateError.unknownTemplate(key: "dunning.nope")) { try catalog.render(key: "dunning.nope", locale: nil, variables: [:]) }
        #expect(TemplateError.unknownTemplate(key: "dunning.nope").reason == "template_unknown")
    }

    @Test func aCatalogRefusesDuplicatesKeysWithoutTheDefaultLocaleAndBrokenTemplates() {
        #expect(throws: TemplateError.duplicateTemplate(key: "test.plain", locale: "pt-br")) {
            try TemplateCatalog(templates: [Self.plain(), Self.plain(locale: "pt-BR"), Self.plain(locale: "pt-br")])
        }
        #expect(throws: TemplateError.missingLocale(key: "test.plain", locale: "en")) {
            try TemplateCatalog(templates: [Self.plain(locale: "pt-BR")])
        }
        #expect(throws: TemplateError.malformedPlaceholder(part: .html, excerpt: "{{value}</p>")) {
            try TemplateCatalog(templates: [Self.plain(html: "<p>{{value}</p>")])
        }
    }

    @Test func theCatalogRendersTheNearestLocale() throws {
        let catalog = try TemplateCatalog.shipped()
        let message = try catalog.render(key: "nps.day_45", locale: "pt-PT", variables: SurveyTemplates.npsDay45Portuguese.sampleVariables)
        #expect(message.templateKey == "nps.day_45")
        #expect(message.locale == "pt-BR")
        #expect(message.subject == "Uma pergunta sobre Acme Analytics")
    }
}
