import Contracts
import Foundation

/// The formats a statement may be uploaded in.
enum StatementFormat: String, Sendable, Codable {
    case csv
    case camt053 = "camt.053"
}

/// A statement as read from a file, before it is checked against its account.
struct ParsedStatement: Equatable, Sendable {
    struct Line: Equatable, Sendable {
        /// Unique per account: the bank's reference.
        var reference: String
        var booked: BankDay
        /// Signed minor units: credits positive, debits negative.
        var amountMinor: Int64
        var text: String
    }

    var format: StatementFormat
    /// The bank's id for the statement, when the file has one (camt.053 `Stmt/Id`).
    var bankStatementRef: String?
    /// The currency the file states (camt.053 amounts carry one; CSV takes the account's).
    var currency: CurrencyCode?
    var openingMinor: Int64
    var closingMinor: Int64
    var lines: [Line]
}

/// Why an uploaded statement was refused. Each names what is wrong and where; nothing of a
/// refused statement is kept.
enum StatementRefusal: Error, Equatable, CustomStringConvertible {
    /// A field of the file (a column, an element) is missing or unreadable.
    case unreadable(field: String, location: String, rule: String)
    /// Opening balance plus the lines is not the closing balance.
    case unbalanced(openingMinor: Int64, linesMinor: Int64, closingMinor: Int64)
    case duplicateReference(String)
    case currencyMismatch(statement: String, account: String)
    /// A line the account already has under this reference, with other facts.
    case conflictingLine(reference: String, field: String)
    case noLines

    var description: String {
        switch self {
        case .unreadable(let field, let location, let rule): "\(field) at \(location): \(rule)"
        case .unbalanced(let opening, let lines, let closing):
            "the statement does not balance: opening \(opening) + lines \(lines) = \(opening + lines), but the closing balance is \(closing) (minor units)"
        case .duplicateReference(let reference): "bank reference \(reference) appears twice in the statement; each line needs its own"
        case .currencyMismatch(let statement, let account): "the statement is in \(statement) but the account holds \(account)"
        case .conflictingLine(let reference, let field): "bank reference \(reference) was already recorded with a different \(field)"
        case .noLines: "the statement has no booked lines"
        }
    }

    /// The Problem+JSON type and whether the input was unreadable (422) or refused by a rule (409).
    var problemType: String {
        switch self {
        case .unreadable: "statement-unreadable"
        case .unbalanced: "statement-does-not-balance"
        case .duplicateReference: "duplicate-bank-reference"
        case .currencyMismatch: "statement-currency-mismatch"
        case .conflictingLine: "bank-line-conflict"
        case .noLines: "statement-has-no-lines"
        }
    }

    /// The request field the problem is about.
    var field: String {
        switch self {
        case .unreadable(let field, _, _): field
        case .unbalanced: "closing_balance"
        case .duplicateReference, .conflictingLine: "reference"
        case .currencyMismatch: "currency"
        case .noLines: "lines"
        }
    }
}

/// The checks every statement passes before any of it is kept.
enum StatementRules {
    /// The statement's lines in the account's currency, or why it is refused: it must balance
    /// (opening + lines = closing, to the minor unit), be in the account's currency, and name
    /// each line once.
    static func check(_ statement: ParsedStatement, account: BankAccount) -> Result<[ParsedStatement.Line], StatementRefusal> {
        if let currency = statement.currency, currency != account.currency {
            return .failure(.currencyMismatch(statement: currency.rawValue, account: account.currency.rawValue))
        }
        guard !statement.lines.isEmpty else { return .failure(.noLines) }
        var seen = Set<String>()
        for line in statement.lines {
            guard seen.insert(line.reference).inserted else { return .failure(.duplicateReference(line.reference)) }
        }
        let (sum, overflow) = statement.lines.reduce((Int64(0), false)) { partial, line in
            let (next, over) = partial.0.addingReportingOverflow(line.amountMinor)
            return (next, partial.1 || over)
        }
        guard !overflow, statement.openingMinor.addingReportingOverflow(sum).partialValue == statement.closingMinor else {
            return .failure(.unbalanced(openingMinor: statement.openingMinor, linesMinor: sum, closingMinor: statement.closingMinor))
        }
        return .success(statement.lines)
    }

    /// A line already recorded under the same reference must state the same facts.
    static func conflict(recorded: BankLine, offered: ParsedStatement.Line) -> StatementRefusal? {
        if recorded.amount.amountMinor != offered.amountMinor { return .conflictingLine(reference: offered.reference, field: "amount") }
        if recorded.booked != offered.booked { return .conflictingLine(reference: offered.reference, field: "booking date") }
        return nil
    }
}

/// Exact decimal text to minor units: `1.234,56` with `,` as the decimal separator is 123456
/// cents. No floating point: digits are read as digits.
enum DecimalAmount {
    /// Nil when the text is not a number, has more decimals than the currency allows, or
    /// overflows. Accepts a leading sign, the other separator (or spaces, or `'`) as thousands
    /// grouping, and a negative in parentheses.
    static func minorUnits(_ raw: String, exponent: Int, decimalSeparator: Character) -> Int64? {
        var text = raw.trimmingCharacters(in: .whitespaces)
        var negative = false
        if text.hasPrefix("(") && text.hasSuffix(")") {
            negative = true
            text = String(text.dropFirst().dropLast())
        }
        if text.hasPrefix("-") || text.hasPrefix("+") {
            negative = negative || text.hasPrefix("-")
            text.removeFirst()
        }
        let grouping: Set<Character> = decimalSeparator == "," ? [".", " ", "'", "\u{00A0}"] : [",", " ", "'", "\u{00A0}"]
        text.removeAll { grouping.contains($0) }
        let parts = text.split(separator: decimalSeparator, omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty || parts.count == 2 else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard whole.allSatisfy(\.isASCII) && whole.allSatisfy(\.isNumber), fraction.allSatisfy(\.isASCII) && fraction.allSatisfy(\.isNumber),
            !(whole.isEmpty && fraction.isEmpty), fraction.count <= exponent
        else { return nil }
        let digits = String(whole) + String(fraction) + String(repeating: "0", count: exponent - fraction.count)
        guard let value = Int64(digits.isEmpty ? "0" : digits) else { return nil }
        return negative ? -value : value
    }
}
