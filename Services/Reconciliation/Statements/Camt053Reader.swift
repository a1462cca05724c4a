import Contracts
import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Reads an ISO 20022 camt.053 bank-to-customer statement (versions .001.02 to .001.13 share
/// the elements read here): one `Stmt`, its opening (`OPBD`, or `PRCD`) and closing (`CLBD`)
/// booked balances, and its booked entries (`Ntry` with status `BOOK`; pending entries are not
/// part of the booked balance and are skipped).
///
/// Safe on hostile input: a document with a DTD (`<!DOCTYPE`, and so any entity declaration)
/// is refused before parsing, external entities are never resolved, and the caller caps the
/// size. An entry's reference is its `AcctSvcrRef`, else its `NtryRef`, else its transaction's
/// `Refs/AcctSvcrRef`; its text joins the unstructured remittance lines and `AddtlNtryInf`.
enum Camt053Reader {
    static func read(_ bytes: [UInt8]) -> Result<ParsedStatement, StatementRefusal> {
        let head = String(decoding: bytes.prefix(4096), as: UTF8.self).uppercased()
        if head.contains("<!DOCTYPE") || head.contains("<!ENTITY") || String(decoding: bytes, as: UTF8.self).uppercased().contains("<!ENTITY") {
            return .failure(.unreadable(field: "body", location: "the document", rule: "a DTD or entity declaration is not allowed in a camt.053 statement"))
        }
        let collector = Collector()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldResolveExternalEntities = false
        parser.shouldProcessNamespaces = true
        parser.delegate = collector
        // An unclosed document can end without a parse error here, so the root's end is required too.
        guard parser.parse(), collector.refusal == nil, collector.closed else {
            if let refusal = collector.refusal { return .failure(refusal) }
            let line = parser.lineNumber
            return .failure(
                .unreadable(
                    field: "body", location: "line \(line)",
                    rule: "not well-formed XML (\(parser.parserError.map { "\($0.localizedDescription)" } ?? "the document ends before its root element closes"))"))
        }
        return collector.statement()
    }

    /// Walks the document once, keeping the path of element names.
    final class Collector: NSObject, XMLParserDelegate {
        var path: [String] = []
        var text = ""
        var refusal: StatementRefusal?
        var namespace: String?
        /// Whether the root element ended.
        var closed = false

        var statements = 0
        var statementID: String?
        var accountCurrency: String?
        struct Balance {
            var code = ""
            var amount = ""
            var currency = ""
            var sign = ""
        }
        var balance: Balance?
        var balances: [Balance] = []

        struct Entry {
            var number: Int
            var amount = ""
            var currency = ""
            var sign = ""
            var reversal = false
            var status = ""
            var booked = ""
            var serviceRef: String?
            var entryRef: String?
            var transactionRef: String?
            var remittance: [String] = []
            var additional: String?
        }
        var entry: Entry?
        var entries: [Entry] = []

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if path.isEmpty {
                namespace = namespaceURI
                guard name == "Document", namespaceURI?.hasPrefix("urn:iso:std:iso:20022:tech:xsd:camt.053.") == true else {
                    fail(
                        .unreadable(field: "body", location: "the root element", rule: "must be a camt.053 Document (namespace urn:iso:std:iso:20022:tech:xsd:camt.053.001.xx)"),
                        parser)
                    return
                }
            }
            path.append(name)
            text = ""
            switch name {
            case "Stmt" where path.count == 3:
                statements += 1
                if statements > 1 { fail(.unreadable(field: "body", location: "Stmt", rule: "upload one statement per file"), parser) }
            case "Bal" where inStatement: balance = Balance()
            case "Ntry" where inStatement: entry = Entry(number: entries.count + 1)
            case "Amt":
                if parent == "Bal" { balance?.currency = attributes["Ccy"] ?? "" }
                if parent == "Ntry" { entry?.currency = attributes["Ccy"] ?? "" }
            default: break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            let within = Set(path)
            switch name {
            case "Id" where path.suffix(2) == ["Stmt", "Id"]: statementID = value
            case "Ccy" where path.suffix(2) == ["Acct", "Ccy"] && within.contains("Stmt") && !within.contains("Ntry"): accountCurrency = value
            case "Cd" where balance != nil && within.contains("Tp"): balance?.code = value
            case "Amt" where parent == "Bal": balance?.amount = value
            case "CdtDbtInd" where parent == "Bal": balance?.sign = value
            case "Bal" where balance != nil:
                balances.append(balance!)
                balance = nil
            case "Amt" where parent == "Ntry": entry?.amount = value
            case "CdtDbtInd" where parent == "Ntry": entry?.sign = value
            case "RvslInd" where parent == "Ntry": entry?.reversal = value.lowercased() == "true"
            case "Sts" where parent == "Ntry" && !value.isEmpty: entry?.status = value
            case "Cd" where path.suffix(2) == ["Sts", "Cd"] && within.contains("Ntry") && !within.contains("TxDtls"): entry?.status = value
            case "Dt", "DtTm":
                if path.dropLast().last == "BookgDt" && entry != nil && !within.contains("TxDtls") { entry?.booked = value }
            case "AcctSvcrRef" where parent == "Ntry": entry?.serviceRef = value
            case "NtryRef" where parent == "Ntry": entry?.entryRef = value
            case "AcctSvcrRef" where parent == "Refs" && within.contains("TxDtls"): if entry?.transactionRef == nil { entry?.transactionRef = value }
            case "Ustrd" where within.contains("RmtInf") && entry != nil: entry?.remittance.append(value)
            case "AddtlNtryInf" where parent == "Ntry": entry?.additional = value
            case "Ntry" where entry != nil:
                entries.append(entry!)
                entry = nil
            default: break
            }
            path.removeLast()
            text = ""
            if path.isEmpty { closed = true }
        }

        var parent: String? { path.dropLast().last }
        var inStatement: Bool { path.count >= 4 && path[2] == "Stmt" && path.count == 4 }

        func fail(_ refusal: StatementRefusal, _ parser: XMLParser) {
            if self.refusal == nil { self.refusal = refusal }
            parser.abortParsing()
        }

        func statement() -> Result<ParsedStatement, StatementRefusal> {
            guard statements == 1 else { return .failure(.unreadable(field: "body", location: "BkToCstmrStmt", rule: "has no Stmt")) }
            var currency: CurrencyCode?
            func minor(_ amount: String, _ code: String, sign: String, at location: String) -> Result<Int64, StatementRefusal> {
                guard let parsedCurrency = CurrencyCode(rawValue: code) else {
                    return .failure(.unreadable(field: "Amt/@Ccy", location: location, rule: "'\(code.prefix(10))' is not an ISO 4217 code"))
                }
                if let currency, currency != parsedCurrency {
                    return .failure(.unreadable(field: "Amt/@Ccy", location: location, rule: "all amounts must be in one currency (\(currency.rawValue))"))
                }
                currency = parsedCurrency
                guard let value = DecimalAmount.minorUnits(amount, exponent: parsedCurrency.minorUnitExponent, decimalSeparator: "."), value >= 0 else {
                    return .failure(.unreadable(field: "Amt", location: location, rule: "'\(amount.prefix(30))' is not a non-negative amount in \(code)"))
                }
                switch sign {
                case "CRDT": return .success(value)
                case "DBIT": return .success(-value)
                default: return .failure(.unreadable(field: "CdtDbtInd", location: location, rule: "must be CRDT or DBIT"))
                }
            }
            func booked(_ code: String) -> Balance? { balances.first { $0.code == code } }
            guard let openingBalance = booked("OPBD") ?? booked("PRCD") else {
                return .failure(.unreadable(field: "Bal", location: "Stmt", rule: "needs an opening booked balance (OPBD or PRCD)"))
            }
            guard let closingBalance = booked("CLBD") else { return .failure(.unreadable(field: "Bal", location: "Stmt", rule: "needs a closing booked balance (CLBD)")) }
            do {
                let opening = try minor(openingBalance.amount, openingBalance.currency, sign: openingBalance.sign, at: "the opening balance").get()
                let closing = try minor(closingBalance.amount, closingBalance.currency, sign: closingBalance.sign, at: "the closing balance").get()
                var lines: [ParsedStatement.Line] = []
                for entry in entries where entry.status.uppercased() == "BOOK" {
                    let location = "entry \(entry.number)"
                    var amount = try minor(entry.amount, entry.currency, sign: entry.sign, at: location).get()
                    if entry.reversal { amount = -amount }
                    guard let reference = entry.serviceRef ?? entry.entryRef ?? entry.transactionRef, !reference.isEmpty, reference.count <= 140 else {
                        return .failure(
                            .unreadable(field: "AcctSvcrRef", location: location, rule: "a booked entry needs a reference (AcctSvcrRef or NtryRef), 1 to 140 characters"))
                    }
                    guard let day = BankDay(String(entry.booked.prefix(10))) else {
                        return .failure(.unreadable(field: "BookgDt", location: location, rule: "'\(entry.booked.prefix(30))' is not an ISO date"))
                    }
                    let text = (entry.remittance + [entry.additional].compactMap { $0 }).filter { !$0.isEmpty }.joined(separator: " ")
                    lines.append(ParsedStatement.Line(reference: reference, booked: day, amountMinor: amount, text: String(text.prefix(500))))
                }
                if let declared = accountCurrency, let currency, declared != currency.rawValue {
                    return .failure(.unreadable(field: "Acct/Ccy", location: "Stmt", rule: "the account currency \(declared) differs from the amounts' \(currency.rawValue)"))
                }
                return .success(
                    ParsedStatement(
                        format: .camt053, bankStatementRef: statementID, currency: currency ?? accountCurrency.flatMap(CurrencyCode.init(rawValue:)),
                        openingMinor: opening, closingMinor: closing, lines: lines))
            } catch let refusal as StatementRefusal {
                return .failure(refusal)
            } catch {
                return .failure(.unreadable(field: "body", location: "the document", rule: "\(error)"))
            }
        }
    }
}
