import Foundation

/// RFC 3339 times as every Tally event writes them: UTC with milliseconds
/// (`2026-11-22T08:00:00.123Z`). One place formats and parses them, with formatters made once.
public enum RFC3339 {
    // ISO8601DateFormatter is safe to use from several threads once configured; it is never
    // mutated after these initializers.
    nonisolated(unsafe) private static let withFraction: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter
    }()
    nonisolated(unsafe) private static let withoutFraction: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter
    }()

    /// `date` in UTC with milliseconds.
    public static func string(_ date: Date) -> String { withFraction.string(from: date) }

    /// Parses an RFC 3339 time with or without fractional seconds; fractions longer than
    /// milliseconds (Paddle sends microseconds) are cut to milliseconds.
    public static func parse(_ text: String) -> Date? {
        if let date = withFraction.date(from: text) ?? withoutFraction.date(from: text) { return date }
        guard let dot = text.firstIndex(of: "."),
            let zone = text.lastIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }), zone > dot
        else { return nil }
        let fraction = text[text.index(after: dot)..<zone].prefix(3)
        return withFraction.date(from: String(text[..<dot]) + "." + fraction + String(text[zone...]))
    }

}
