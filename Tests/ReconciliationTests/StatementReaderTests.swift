import Contracts
import Foundation
import Testing

@testable import Reconciliation

/// The statement test files, beside this file.
func statementFile(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Statements/\(name)")))
}

@Suite("Bank statements: reading and the rules")
struct StatementReaderTests {
    static let usd = CurrencyCode(rawValue: "USD")!
    static let account = BankAccount(accountID: "acc_main", currency: usd, settlementWindowDays: 3)
    /// The German bank's export in quirks.csv: semicolons, decimal commas, running balances, newest first.
    static let germanMapping = BankCSVMapping(
        delimiter: ";", dateColumn: "Buchungstag", dateFormat: .dayMonthYearDot, amountColumn: "Betrag", decimalSeparator: ",", referenceColumn: "Referenz",
        textColumns: ["Verwendungszweck", "Auftraggeber"], balanceColumn: "Saldo")

    @Test func aCamt053StatementValidatedAgainstTheISOSchemaIsReadExactly() throws {
        let statement = try Camt053Reader.read(try statementFile("camt053-usd.xml")).get()
        #expect(statement.bankStatementRef == "ACME-USD-2026-11-23" && statement.currency == Self.usd)
        #expect(statement.openingMinor == 100_000 && statement.closingMinor == 107_499)
        #expect(statement.lines.map(\.reference) == ["20261122-000481", "20261122-FEE-9", "20261123-000112"], "the pending entry is not booked")
        #expect(statement.lines.map(\.amountMinor) == [4800, -250, 2949])
        #expect(statement.lines[0].text == "STRIPE PAYOUT po_1QAbhLkdIwHu7ix2tT5uV6wX" && statement.lines[1].text == "Monthly account fee")
        #expect(statement.lines.map(\.booked.description) == ["2026-11-22", "2026-11-22", "2026-11-23"])
        #expect(try StatementRules.check(statement, account: Self.account).get().count == 3)
    }

    @Test func aCSVWithQuotingQuirksIsReadExactly() throws {
        let statement = try CSVStatementReader.read(try statementFile("quirks.csv"), mapping: Self.germanMapping, currency: Self.usd, openingMinor: nil, closingMinor: nil).get()
        #expect(statement.lines.map(\.reference) == ["FEE-2026-11", "88123", "000481"])
        #expect(statement.lines.map(\.amountMinor) == [-250, 2949, 4800])
        #expect(statement.lines[0].text == "Kontoführung; November", "a quoted delimiter stays in the field")
        #expect(statement.lines[1].text == #"SEPA "CREDIT" 88123 Globex GmbH"#, "doubled quotes, and spaces around an unquoted field trimmed")
        #expect(
            statement.lines[2].text.contains("STRIPE PAYOUT") && BankLine.tokens(of: statement.lines[2].text).contains("po_1qabhlkdiwhu7ix2tt5uv6wx"), "a line break inside quotes")
        #expect(statement.openingMinor == 100_000 && statement.closingMinor == 107_499, "balances read oldest first from a newest-first export")
        #expect(try StatementRules.check(statement, account: Self.account).get().count == 3)
    }

    @Test func aStatementThatDoesNotBalanceIsRefusedWithBothNumbers() throws {
        var statement = try Camt053Reader.read(try statementFile("camt053-usd.xml")).get()
        statement.closingMinor = 107_500
        let refusal = try #require(StatementRules.check(statement, account: Self.account).failure)
        #expect(refusal == .unbalanced(openingMinor: 100_000, linesMinor: 7_499, closingMinor: 107_500))
        #expect(refusal.description.contains("107499") && refusal.description.contains("107500"))
    }

    @Test func aRepeatedReferenceAndAnotherCurrencyAreRefused() throws {
        var statement = try Camt053Reader.read(try statementFile("camt053-usd.xml")).get()
        statement.lines[2].reference = statement.lines[0].reference
        #expect(StatementRules.check(statement, account: Self.account).failure == .duplicateReference("20261122-000481"))
        let euros = BankAccount(accountID: "acc_eu", currency: CurrencyCode(rawValue: "EUR")!, settlementWindowDays: 3)
        #expect(
            StatementRules.check(try Camt053Reader.read(try statementFile("camt053-usd.xml")).get(), account: euros).failure == .currencyMismatch(statement: "USD", account: "EUR"))
    }

    @Test(arguments: [
        #"<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&xxe;</Document>"#,
        #"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&lol2;</Document>"#,
    ])
    func aDocumentWithEntitiesIsRefusedBeforeParsing(_ xml: String) throws {
        let refusal = try #require(Camt053Reader.read(Array(xml.utf8)).failure)
        #expect(refusal.description.contains("DTD or entity"))
    }

    @Test(arguments: [
        (#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>"#, "camt.053 Document"),
        (#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>"#, "not well-formed"),
        (#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt/></Document>"#, "has no Stmt"),
    ])
    func otherDocumentsAreRefusedNamingTheProblem(_ xml: String, _ expected: String) throws {
        let refusal = try #require(Camt053Reader.read(Array(xml.utf8)).failure)
        #expect(refusal.description.contains(expected), "\(refusal)")
    }

    @Test(arguments: [
        ("12.34", 2, Character("."), Int64(1234)), ("-0.5", 2, ".", -50), ("1,234.56", 2, ".", 123_456), ("1.234,56", 2, ",", 123_456), ("(7.00)", 2, ".", -700),
        ("100", 0, ".", 100), ("0.001", 3, ".", 1), ("+3", 2, ".", 300),
    ])
    func decimalTextBecomesExactMinorUnits(_ text: String, _ exponent: Int, _ separator: Character, _ minor: Int64) {
        #expect(DecimalAmount.minorUnits(text, exponent: exponent, decimalSeparator: separator) == minor)
    }

    @Test(arguments: ["12.345", "1.2.3", "abc", "", "-", "99999999999999999999", "1e5", "٣"])
    func notAnAmount(_ text: String) {
        #expect(DecimalAmount.minorUnits(text, exponent: 2, decimalSeparator: ".") == nil, "\(text)")
    }

    @Test func csvErrorsNameTheColumnAndTheLine() throws {
        let bad = Array("Buchungstag;Betrag;Referenz;Verwendungszweck;Auftraggeber;Saldo\n23.11.2026;zwei;R1;x;y;1,00\n".utf8)
        let refusal = try #require(CSVStatementReader.read(bad, mapping: Self.germanMapping, currency: Self.usd, openingMinor: nil, closingMinor: nil).failure)
        #expect(refusal.field == "Betrag" && refusal.description.contains("line 2"), "\(refusal)")
        let missing = Array("Date,Amount,Ref\n2026-11-23,1.00,R1\n".utf8)
        let mapping = BankCSVMapping(dateColumn: "Date", amountColumn: "Amount", referenceColumn: "Ref", textColumns: [])
        let noBalances = try #require(CSVStatementReader.read(missing, mapping: mapping, currency: Self.usd, openingMinor: nil, closingMinor: nil).failure)
        #expect(noBalances.field == "opening_balance_minor")
        let unclosed = Array("Date,Amount,Ref\n2026-11-23,\"1.00,R1\n".utf8)
        #expect(CSVStatementReader.read(unclosed, mapping: mapping, currency: Self.usd, openingMinor: 0, closingMinor: 100).failure?.description.contains("never closed") == true)
        #expect(BankCSVMapping(dateColumn: "D", referenceColumn: "R", textColumns: []).violation?.field == "csv_mapping.amount_column")
    }
}

extension Result {
    var failure: Failure? { if case .failure(let failure) = self { failure } else { nil } }
}
