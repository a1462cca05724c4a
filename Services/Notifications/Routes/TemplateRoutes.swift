import Foundation
import Hummingbird
import ServiceRuntime

/// `GET …/templates` lists the shipped templates; `POST …/templates/{key}/preview` renders one with
/// its sample variables, overridden by any the body gives. Every role lists; preview is a POST, so
/// it takes a role that may write (the admin middleware's rule); nothing is sent or stored.
struct TemplateRoutes: Sendable {
    let catalog: TemplateCatalog

    struct Listing: Codable, ResponseEncodable {
        struct Entry: Codable {
            var key: String
            var locales: [String]
            var requiredVariables: [String]
            var sampleVariables: [String: String]
            enum CodingKeys: String, CodingKey { case key, locales, requiredVariables = "required_variables", sampleVariables = "sample_variables" }
        }
        var templates: [Entry]
    }

    struct PreviewRequest: Decodable {
        var locale: String?
        var variables: [String: String]?
    }

    struct Preview: Codable, ResponseEncodable {
        struct WhatsApp: Codable {
            var name: String
            var language: String
            var parameters: [String]
        }
        var key: String
        var locale: String
        var subject: String
        var text: String
        var html: String
        var whatsapp: WhatsApp?
    }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("templates") { _, context -> Listing in
            _ = try context.requirePrincipal()
            return Listing(
                templates: catalog.listing.map {
                    Listing.Entry(key: $0.key, locales: $0.locales, requiredVariables: $0.requiredVariables, sampleVariables: $0.sampleVariables)
                })
        }
        admin.post("templates/:key/preview") { request, context -> Preview in
            _ = try context.requirePrincipal()
            let key = context.parameters.get("key") ?? ""
            guard let listing = catalog.listing.first(where: { $0.key == key }) else { throw Problem.notFound("no template has the key \(key.prefix(100))") }
            let input = try await RequestInput.optionalBody(PreviewRequest.self, from: request, allowed: ["locale", "variables"])
            let locale = try RequestInput.text(input?.locale, field: "locale", maxCharacters: 35)
            var variables = listing.sampleVariables
            for (name, value) in input?.variables ?? [:] {
                variables[name] = try RequestInput.text(value, field: "variables.\(name.prefix(64))", maxCharacters: 2000) ?? ""
            }
            do throws(TemplateError) {
                let rendered = try catalog.render(key: key, locale: locale, variables: variables)
                return Preview(
                    key: key, locale: rendered.locale, subject: rendered.subject, text: rendered.text, html: rendered.html,
                    whatsapp: rendered.whatsApp.map { Preview.WhatsApp(name: $0.name, language: $0.languageCode, parameters: $0.bodyParameters) })
            } catch {
                throw Self.problem(error)
            }
        }
    }

    static func problem(_ error: TemplateError) -> Problem {
        switch error {
        case .missingVariables(let names):
            Problem(
                type: "template-variable-missing", title: "Template variable missing", status: .unprocessableContent,
                detail: "the template needs \(names.joined(separator: ", "))", extensions: ["field": "variables", "missing": names.joined(separator: ",")])
        case .unknownTemplate(let key):
            Problem.notFound("no template has the key \(key.prefix(100))")
        default:
            Problem(type: "template-invalid", title: "Template cannot render", status: .unprocessableContent, detail: error.description)
        }
    }
}
