import Contracts
import Foundation

/// One cell of an exported CSV file.
enum CSVCell: Hashable, Sendable {
    /// Text from outside (names, references, descriptions): quoted as needed and neutralised
    /// when a spreadsheet would run it as a formula.
    case text(String?)
    /// A whole number (minor units, counts): written as digits, never neutralised.
    case number(Int64)
    /// An instant, RFC 3339 UTC with milliseconds; empty when nil.
    case time(Date?)
}

/// CSV as RFC 4180 writes it: UTF-8, fields separated by commas, records ended by CRLF, a field
/// quoted when it holds a comma, a quote, CR or LF, and quotes inside doubled.
///
/// Formula injection: a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return is written with a leading apostrophe (`'=cmd`), so Excel, LibreOffice and Google
/// Sheets show it as text instead of evaluating it. Numbers are written as they are.
enum CSVFormat {
    static let formulaStarts: Set<Character> = ["=", "+", "-", "@", "\t", "\r", "\r\n"]

    static func record(_ cells: [CSVCell]) -> String {
        cells.map(field).joined(separator: ",") + "\r\n"
    }

    static func header(_ names: [String]) -> String {
        record(names.map { .text($0) })
    }

    static func field(_ cell: CSVCell) -> String {
        switch cell {
        case .number(let value): return String(value)
        case .time(let date): return date.map(RFC3339.string) ?? ""
        case .text(let text):
            guard var text, !text.isEmpty else { return "" }
            if let first = text.first, formulaStarts.contains(first) { text = "'" + text }
            guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return text }
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
    }
}
