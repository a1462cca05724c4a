import Contracts
import Foundation

/// How one bank's CSV export names its columns, stored per bank account. Columns are found by
/// their header text (trimmed, case-insensitive), so a bank reordering its columns breaks
/// nothing.
struct BankCSVMapping: Codable, Equatable, Sendable {
    enum DateFormat: String, Codable, Sendable, CaseIterable {
        case isoDate = "YYYY-MM-DD"
        case dayMonthYearSlash = "DD/MM/YYYY"
        case dayMonthYearDot = "DD.MM.YYYY"
        case monthDayYearSlash = "MM/DD/YYYY"
    }

    /// One character: `,`, `;`, `\t` or `|`.
    var delimiter: String = ","
    var dateColumn: String
    var dateFormat: DateFormat = .isoDate
    /// A signed amount column; or `creditColumn` and `debitColumn`, both unsigned.
    var amountColumn: String?
    var creditColumn: String?
    var debitColumn: String?
    /// `.` or `,`.
    var decimalSeparator: String = "."
    var referenceColumn: String
    /// Joined with a space into the line's text.
    var textColumns: [String]
    /// The running balance after each line, when the export has one; then the opening and
    /// closing balances come from it instead of the upload's parameters.
    var balanceColumn: String?

    enum CodingKeys: String, CodingKey {
        case delimiter, dateColumn = "date_column", dateFormat = "date_format", amountColumn = "amount_column", creditColumn = "credit_column"
        case debitColumn = "debit_column", decimalSeparator = "decimal_separator", referenceColumn = "reference_column", textColumns = "text_columns"
        case balanceColumn = "balance_column"
    }

    init(
        delimiter: String = ",", dateColumn: String, dateFormat: DateFormat = .isoDate, amountColumn: String? = nil, creditColumn: String? = nil,
        debitColumn: String? = nil, decimalSeparator: String = ".", referenceColumn: String, textColumns: [String], balanceColumn: String? = nil
    ) {
        self.delimiter = delimiter
        self.dateColumn = dateColumn
        self.dateFormat = dateFormat
        self.amountColumn = amountColumn
        self.creditColumn = creditColumn
        self.debitColumn = debitColumn
        self.decimalSeparator = decimalSeparator
        self.referenceColumn = referenceColumn
        self.textColumns = textColumns
        self.balanceColumn = balanceColumn
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            delimiter: try c.decodeIfPresent(String.self, forKey: .delimiter) ?? ",", dateColumn: try c.decode(String.self, forKey: .dateColumn),
            dateFormat: try c.decodeIfPresent(DateFormat.self, forKey: .dateFormat) ?? .isoDate, amountColumn: try c.decodeIfPresent(String.self, forKey: .amountColumn),
            creditColumn: try c.decodeIfPresent(String.self, forKey: .creditColumn), debitColumn: try c.decodeIfPresent(String.self, forKey: .debitColumn),
            decimalSeparator: try c.decodeIfPresent(String.self, forKey: .decimalSeparator) ?? ".", referenceColumn: try c.decode(String.self, forKey: .referenceColumn),
            textColumns: try c.decodeIfPresent([String].self, forKey: .textColumns) ?? [], balanceColumn: try c.decodeIfPresent(String.self, forKey: .balanceColumn))
    }

    /// The first rule the mapping breaks, as (field, rule); nil when it is usable.
    var violation: (field: String, rule: String)? {
        if ![",", ";", "\t", "|"].contains(delimiter) { return ("csv_mapping.delimiter", "must be one of , ; | or a tab") }
        if ![".", ","].contains(decimalSeparator) { return ("csv_mapping.decimal_separator", "must be . or ,") }
        if delimiter == decimalSeparator { return ("csv_mapping.decimal_separator", "must differ from the delimiter") }
        let hasAmount = amountColumn != nil
        let hasSplit = creditColumn != nil && debitColumn != nil
        if hasAmount == hasSplit { return ("csv_mapping.amount_column", "name either amount_column, or both credit_column and debit_column") }
        let names = [dateColumn, referenceColumn] + textColumns + [amountColumn, creditColumn, debitColumn, balanceColumn].compactMap { $0 }
        if names.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty || $0.count > 100 }) {
            return ("csv_mapping", "column names must be 1 to 100 characters")
        }
        if textColumns.count > 5 { return ("csv_mapping.text_columns", "at most 5 columns") }
        return nil
    }
}

/// Reads a bank's CSV export with its mapping.
///
/// The CSV is RFC 4180 with the quirks real exports have: a UTF-8 byte-order mark, CRLF, LF or
/// CR line ends, quoted fields holding the delimiter, line breaks or doubled quotes, spaces
/// around fields, and blank lines (skipped). Errors name the column and the file's line.
enum CSVStatementReader {
    static func read(
        _ bytes: [UInt8], mapping: BankCSVMapping, currency: CurrencyCode, openingMinor: Int64?, closingMinor: Int64?
    ) -> Result<
        ParsedStatement, StatementRefusal
    > {
        guard let text = String(validating: bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes, as: UTF8.self) else {
            return .failure(.unreadable(field: "body", location: "the file", rule: "must be UTF-8 text"))
        }
        let records: [CSVRecord]
        switch CSVRecords.parse(text, delimiter: Character(mapping.delimiter)) {
        case .success(let parsed): records = parsed
        case .failure(let refusal): return .failure(refusal)
        }
        guard let header = records.first else { return .failure(.noLines) }
        let index = Dictionary(header.fields.enumerated().map { ($0.element.trimmingCharacters(in: .whitespaces).lowercased(), $0.offset) }, uniquingKeysWith: { a, _ in a })
        func column(_ name: String) -> Result<Int, StatementRefusal> {
            guard let position = index[name.trimmingCharacters(in: .whitespaces).lowercased()] else {
                return .failure(.unreadable(field: "csv_mapping", location: "the header line", rule: "has no column named '\(name)'"))
            }
            return .success(position)
        }
        let exponent = currency.minorUnitExponent
        let separator = Character(mapping.decimalSeparator)
        do {
            let date = try column(mapping.dateColumn).get()
            let reference = try column(mapping.referenceColumn).get()
            let texts = try mapping.textColumns.map { try column($0).get() }
            let amount = try mapping.amountColumn.map { try column($0).get() }
            let credit = try mapping.creditColumn.map { try column($0).get() }
            let debit = try mapping.debitColumn.map { try column($0).get() }
            let balance = try mapping.balanceColumn.map { try column($0).get() }
            var lines: [ParsedStatement.Line] = []
            var balances: [Int64] = []
            for record in records.dropFirst() {
                let at = "line \(record.line)"
                func field(_ position: Int, _ name: String) throws(StatementRefusal) -> String {
                    guard position < record.fields.count else { throw .unreadable(field: name, location: at, rule: "the line has too few columns") }
                    return record.fields[position].trimmingCharacters(in: .whitespaces)
                }
                func money(_ position: Int, _ name: String, allowEmpty: Bool) throws(StatementRefusal) -> Int64? {
                    let value = try field(position, name)
                    if value.isEmpty && allowEmpty { return nil }
                    guard let minor = DecimalAmount.minorUnits(value, exponent: exponent, decimalSeparator: separator) else {
                        throw .unreadable(field: name, location: at, rule: "'\(value.prefix(40))' is not an amount with at most \(exponent) decimals")
                    }
                    return minor
                }
                let ref = try field(reference, mapping.referenceColumn)
                guard !ref.isEmpty, ref.count <= 140 else { throw StatementRefusal.unreadable(field: mapping.referenceColumn, location: at, rule: "1 to 140 characters") }
                let dateText = try field(date, mapping.dateColumn)
                guard let booked = parseDate(dateText, mapping.dateFormat) else {
                    throw StatementRefusal.unreadable(field: mapping.dateColumn, location: at, rule: "'\(dateText.prefix(20))' is not a date in \(mapping.dateFormat.rawValue)")
                }
                let signed: Int64
                if let amount {
                    signed = try money(amount, mapping.amountColumn ?? "amount", allowEmpty: false) ?? 0
                } else if let credit, let debit {
                    let received = try money(credit, mapping.creditColumn ?? "credit", allowEmpty: true)
                    let paid = try money(debit, mapping.debitColumn ?? "debit", allowEmpty: true)
                    guard (received == nil) != (paid == nil) else {
                        throw StatementRefusal.unreadable(
                            field: mapping.creditColumn ?? "credit", location: at, rule: "exactly one of the credit and debit columns must hold an amount")
                    }
                    signed = received.map { abs($0) } ?? -abs(paid ?? 0)
                } else {
                    signed = 0
                }
                let words = try texts.enumerated().map { try field($0.element, mapping.textColumns[$0.offset]) }.filter { !$0.isEmpty }
                lines.append(ParsedStatement.Line(reference: ref, booked: booked, amountMinor: signed, text: String(words.joined(separator: " ").prefix(500))))
                if let balance { balances.append(try money(balance, mapping.balanceColumn ?? "balance", allowEmpty: false) ?? 0) }
            }
            guard !lines.isEmpty else { return .failure(.noLines) }
            let opening: Int64
            let closing: Int64
            if !balances.isEmpty {
                // Newest-first exports are read oldest first; the balance before the oldest line is the opening.
                let newestFirst = lines.count > 1 && lines[0].booked > lines[lines.count - 1].booked
                let chronological = newestFirst ? Array(zip(lines, balances).reversed()) : Array(zip(lines, balances))
                opening = chronological[0].1 - chronological[0].0.amountMinor
                closing = chronological[chronological.count - 1].1
            } else {
                guard let openingMinor else {
                    return .failure(.unreadable(field: "opening_balance_minor", location: "the request", rule: "required when the mapping has no balance column"))
                }
                guard let closingMinor else {
                    return .failure(.unreadable(field: "closing_balance_minor", location: "the request", rule: "required when the mapping has no balance column"))
                }
                opening = openingMinor
                closing = closingMinor
            }
            return .success(ParsedStatement(format: .csv, bankStatementRef: nil, currency: nil, openingMinor: opening, closingMinor: closing, lines: lines))
        } catch let refusal as StatementRefusal {
            return .failure(refusal)
        } catch {
            return .failure(.unreadable(field: "body", location: "the file", rule: "\(error)"))
        }
    }

    static func parseDate(_ text: String, _ format: BankCSVMapping.DateFormat) -> BankDay? {
        let parts = text.split(whereSeparator: { $0 == "/" || $0 == "." || $0 == "-" }).map(String.init)
        guard parts.count == 3 else { return nil }
        let (year, month, day): (String, String, String) =
            switch format {
            case .isoDate: (parts[0], parts[1], parts[2])
            case .dayMonthYearSlash, .dayMonthYearDot: (parts[2], parts[1], parts[0])
            case .monthDayYearSlash: (parts[2], parts[0], parts[1])
            }
        guard year.count == 4, (1...2).contains(month.count), (1...2).contains(day.count) else { return nil }
        func pad(_ s: String) -> String { s.count == 1 ? "0" + s : s }
        return BankDay("\(year)-\(pad(month))-\(pad(day))")
    }
}

/// One record of a CSV file and the file line it starts on.
struct CSVRecord: Equatable {
    var line: Int
    var fields: [String]
}

/// RFC 4180 records, tolerant of what exports do in practice.
enum CSVRecords {
    static func parse(_ text: String, delimiter: Character) -> Result<[CSVRecord], StatementRefusal> {
        var records: [CSVRecord] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var fieldWasQuoted = false
        var line = 1
        var recordLine = 1
        var characters = Array(text)
        characters.append("\n")
        var index = 0
        func endField() {
            fields.append(fieldWasQuoted ? field : field.trimmingCharacters(in: .whitespaces))
            field = ""
            fieldWasQuoted = false
        }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) { records.append(CSVRecord(line: recordLine, fields: fields)) }
            fields = []
        }
        while index < characters.count {
            let character = characters[index]
            if quoted {
                if character == "\"" {
                    if index + 1 < characters.count && characters[index + 1] == "\"" {
                        field.append("\"")
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    if character == "\n" || character == "\r\n" || character == "\r" { line += 1 }
                    field.append(character)
                }
            } else if character == "\"" && field.trimmingCharacters(in: .whitespaces).isEmpty && !fieldWasQuoted {
                quoted = true
                fieldWasQuoted = true
                field = ""
            } else if character == delimiter {
                endField()
            } else if character == "\n" || character == "\r\n" || character == "\r" {
                endRecord()
                line += 1
                recordLine = line
            } else if fieldWasQuoted {
                // Only spaces may follow a closing quote.
                guard character == " " else {
                    return .failure(.unreadable(field: "body", location: "line \(line)", rule: "text after a closing quote"))
                }
            } else {
                field.append(character)
            }
            index += 1
        }
        if quoted { return .failure(.unreadable(field: "body", location: "line \(recordLine)", rule: "a quoted field is never closed")) }
        return .success(records)
    }
}
