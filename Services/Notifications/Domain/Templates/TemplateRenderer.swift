/// A template filled with one request's variables, ready for a channel.
struct RenderedMessage: Sendable, Equatable {
    var templateKey: String
    /// The locale of the template that was used (after fallback).
    var locale: String
    /// One line: no CR, LF or other control character.
    var subject: String
    var text: String
    var html: String
    /// The WhatsApp template with its body parameters, when the template has one.
    var whatsApp: RenderedWhatsAppTemplate?
}

/// A Meta-approved WhatsApp template and the values of its body parameters, in order.
struct RenderedWhatsAppTemplate: Sendable, Equatable {
    var name: String
    var languageCode: String
    /// Each on one line (WhatsApp refuses parameters with new lines or tabs).
    var bodyParameters: [String]
}

/// Fills templates with variables.
///
/// Guarantees:
/// - All or nothing: if any variable the template names is absent from the map, rendering fails
///   with `TemplateError.missingVariables` naming every absent one, sorted, and produces nothing.
///   Extra variables are ignored.
/// - Values are inserted once and never read as template text: a value containing `{{name}}`
///   appears literally.
/// - HTML: values have `& < > " '` escaped, so a value cannot open a tag or leave an attribute.
/// - Subject and WhatsApp parameters: every control character (CR, LF, tab, NEL, …) and the
///   Unicode line and paragraph separators become a space, so no value can add a mail header.
/// - Text: values are inserted unchanged.
enum TemplateRenderer {
    /// `template` filled with `variables`.
    static func render(_ template: NotificationTemplate, with variables: [String: String]) throws(TemplateError) -> RenderedMessage {
        let parsed = try ParsedTemplate(template)
        let missing = parsed.variableNames.filter { variables[$0] == nil }
        guard missing.isEmpty else { throw TemplateError.missingVariables(names: missing) }
        let whatsApp = template.whatsApp.map { reference in
            RenderedWhatsAppTemplate(
                name: reference.name, languageCode: reference.languageCode,
                bodyParameters: reference.bodyVariables.map { singleLine(variables[$0] ?? "") })
        }
        return RenderedMessage(
            templateKey: template.key, locale: template.locale,
            subject: singleLine(fill(parsed.subject, with: variables, escaping: { $0 })),
            text: fill(parsed.text, with: variables, escaping: { $0 }),
            html: fill(parsed.html, with: variables, escaping: { escapeHTML($0) }),
            whatsApp: whatsApp)
    }

    /// Every variable `template` names (subject, text, HTML and WhatsApp body), sorted, each once.
    /// Fails if the template has a malformed placeholder.
    static func requiredVariables(of template: NotificationTemplate) throws(TemplateError) -> [String] {
        try ParsedTemplate(template).variableNames
    }

    /// `text` with `& < > " '` replaced by their HTML character references. Works on Unicode
    /// scalars, so a combining mark after a quote cannot hide the quote.
    static func escapeHTML(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// `text` with every control character (general category Cc: CR, LF, tab, NEL, …) and the
    /// Unicode line and paragraph separators replaced by a space.
    static func singleLine(_ text: String) -> String {
        let space: Unicode.Scalar = " "
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let breaksTheLine = scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}"
            scalars.append(breaksTheLine ? space : scalar)
        }
        return String(scalars)
    }

    private static func fill(_ segments: [TemplateSegment], with variables: [String: String], escaping escape: (String) -> String) -> String {
        var filled = ""
        for segment in segments {
            switch segment {
            case .literal(let text): filled += text
            case .variable(let name): filled += escape(variables[name] ?? "")
            }
        }
        return filled
    }
}

/// A piece of a template part: text to copy, or a variable to fill.
enum TemplateSegment: Sendable, Equatable {
    case literal(String)
    case variable(String)
}

/// A template's parts split into segments, with the variables it needs.
struct ParsedTemplate: Sendable {
    let subject: [TemplateSegment]
    let text: [TemplateSegment]
    let html: [TemplateSegment]
    /// Sorted, each once.
    let variableNames: [String]

    init(_ template: NotificationTemplate) throws(TemplateError) {
        let subject = try TemplateSyntax.segments(of: template.subject, in: .subject)
        let text = try TemplateSyntax.segments(of: template.text, in: .text)
        let html = try TemplateSyntax.segments(of: template.html, in: .html)
        var names = Set<String>()
        for segment in subject + text + html {
            if case .variable(let name) = segment { names.insert(name) }
        }
        for name in template.whatsApp?.bodyVariables ?? [] {
            guard TemplateSyntax.isVariableName(name) else { throw TemplateError.malformedPlaceholder(part: .whatsApp, excerpt: name) }
            names.insert(name)
        }
        self.subject = subject
        self.text = text
        self.html = html
        self.variableNames = names.sorted()
    }
}

/// The placeholder syntax: `{{name}}`, `name` matching `[a-z][a-z0-9_]*`, optionally padded with
/// spaces or tabs inside the braces.
enum TemplateSyntax {
    /// `source` split into literal text and variables. Scans bytes: every delimiter and name
    /// character is ASCII, which never occurs inside a multi-byte UTF-8 sequence, so the literal
    /// pieces keep whole characters.
    static func segments(of source: String, in part: TemplatePart) throws(TemplateError) -> [TemplateSegment] {
        let bytes = Array(source.utf8)
        let openBrace = UInt8(ascii: "{")
        let closeBrace = UInt8(ascii: "}")
        func malformed(at offset: Int) -> TemplateError {
            let start = source.utf8.index(source.utf8.startIndex, offsetBy: offset)
            return TemplateError.malformedPlaceholder(part: part, excerpt: String(source[start...].prefix(24)))
        }
        func pair(_ byte: UInt8, at index: Int) -> Bool {
            index + 1 < bytes.count && bytes[index] == byte && bytes[index + 1] == byte
        }

        var segments: [TemplateSegment] = []
        var literalStart = 0
        var index = 0
        while index < bytes.count {
            if pair(openBrace, at: index) {
                var cursor = index + 2
                while cursor < bytes.count, isBlank(bytes[cursor]) { cursor += 1 }
                let nameStart = cursor
                guard cursor < bytes.count, isLowercaseLetter(bytes[cursor]) else { throw malformed(at: index) }
                while cursor < bytes.count, isNameByte(bytes[cursor]) { cursor += 1 }
                let nameEnd = cursor
                while cursor < bytes.count, isBlank(bytes[cursor]) { cursor += 1 }
                guard pair(closeBrace, at: cursor) else { throw malformed(at: index) }
                if literalStart < index {
                    segments.append(.literal(String(decoding: bytes[literalStart..<index], as: UTF8.self)))
                }
                segments.append(.variable(String(decoding: bytes[nameStart..<nameEnd], as: UTF8.self)))
                index = cursor + 2
                literalStart = index
            } else if pair(closeBrace, at: index) {
                throw malformed(at: index)
            } else {
                index += 1
            }
        }
        if literalStart < bytes.count {
            segments.append(.literal(String(decoding: bytes[literalStart...], as: UTF8.self)))
        }
        return segments
    }

    /// Whether `name` is a valid variable name.
    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isLowercaseLetter(first) else { return false }
        return name.utf8.dropFirst().allSatisfy { isNameByte($0) }
    }

    private static func isLowercaseLetter(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
    private static func isNameByte(_ byte: UInt8) -> Bool {
        isLowercaseLetter(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
    }
    private static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
}
