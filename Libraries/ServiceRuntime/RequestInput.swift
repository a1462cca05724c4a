import Foundation
import Hummingbird

/// Reading request input so that bad input is refused with 400 Problem+JSON naming the field and
/// the rule, never clamped, guessed or passed on to the database to fail there.
public enum RequestInput {
    /// A `bad-request` problem about `field`, with the field in the problem's extensions.
    public static func invalid(_ field: String, _ rule: String) -> Problem {
        Problem(type: "bad-request", title: "Bad request", status: .badRequest, detail: "\(field) \(rule)", extensions: ["field": field])
    }

    /// Refuses text PostgreSQL cannot store (U+0000) and text over `maxCharacters` Unicode
    /// characters (code points, as JSON Schema's `maxLength` counts them). An empty string is
    /// returned as nil: an empty filter means no filter.
    public static func text(_ value: String?, field: String, maxCharacters: Int = 1000) throws(Problem) -> String? {
        guard let value, !value.isEmpty else { return nil }
        if value.unicodeScalars.contains("\u{0}") { throw invalid(field, "must not contain the NUL character (U+0000)") }
        if value.unicodeScalars.count > maxCharacters { throw invalid(field, "must be at most \(maxCharacters) characters") }
        return value
    }
}

extension Request {
    /// The query parameter `name` as text (see `RequestInput.text`); nil when absent or empty.
    public func queryText(_ name: String, maxCharacters: Int = 1000) throws(Problem) -> String? {
        try RequestInput.text(uri.queryParameters.get(name), field: name, maxCharacters: maxCharacters)
    }

    /// The query parameter `name` as a whole number in `range`, `fallback` when absent or empty;
    /// anything else is refused with 400 naming the parameter and the range.
    public func queryInteger<Number: FixedWidthInteger & Sendable>(_ name: String, default fallback: Number, range: ClosedRange<Number>) throws(Problem) -> Number {
        guard let text = uri.queryParameters.get(name), !text.isEmpty else { return fallback }
        guard let value = Number(text), range.contains(value) else {
            throw RequestInput.invalid(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}
