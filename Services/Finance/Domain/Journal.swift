import Contracts
import Foundation

/// The ledger as a plain-text journal in hledger's format, for an independent check of the
/// books (`hledger check --strict`) and for accountants' tools.
///
/// What it holds: a `commodity` directive per currency (with the currency's decimals from
/// `CurrencyCode.minorUnitExponent`), an `account` directive per account with its type, an
/// opening transaction with each balance before `from` (when the period does not start at the
/// beginning), one transaction per ledger transaction dated by its posting day (UTC), and a
/// final transaction asserting every account's balance per currency.
enum Journal {
    struct Balance: Hashable, Sendable {
        var account: String
        var currency: CurrencyCode
        var minor: Int64
    }

    static func render(org: String, opening: [Balance], transactions: [PostedTransaction], periodStart: Date?, periodEnd: Date, generatedAt: Date) -> String {
        let ordered = transactions.sorted { $0.sequence < $1.sequence }
        var accounts = Set(opening.map(\.account))
        var currencies = Set(opening.map(\.currency))
        for entry in ordered.flatMap(\.entries) {
            accounts.insert(entry.account)
            currencies.insert(entry.currency)
        }
        var lines = [
            "; Tally ledger of org \(org), exported \(RFC3339.string(generatedAt))", "; amounts are the ledger's integer minor units written with each currency's decimals", "",
        ]
        for currency in currencies.sorted(by: { $0.rawValue < $1.rawValue }) {
            // hledger wants a decimal mark in the directive even for a currency without decimals.
            let sample = amount(1000 * power(currency.minorUnitExponent), currency)
            lines.append("commodity \(currency.minorUnitExponent == 0 ? sample.replacingOccurrences(of: " ", with: ". ") : sample)")
        }
        lines.append("")
        for account in accounts.sorted() {
            lines.append("account \(account)  ; type: \(LedgerAccount.kind(of: account).journalType)")
        }
        var balances: [String: Balance] = [:]
        func add(_ account: String, _ currency: CurrencyCode, _ minor: Int64) {
            let name = "\(account) \(currency.rawValue)"
            balances[name, default: Balance(account: account, currency: currency, minor: 0)].minor += minor
        }
        let nonZeroOpening = opening.filter { $0.minor != 0 }
        if !nonZeroOpening.isEmpty, let openingDay = periodStart ?? ordered.first?.postedAt {
            lines += ["", "\(day(openingDay)) opening balances"]
            for balance in nonZeroOpening.sorted(by: { ($0.account, $0.currency.rawValue) < ($1.account, $1.currency.rawValue) }) {
                lines.append("    \(balance.account)    \(amount(balance.minor, balance.currency))")
                add(balance.account, balance.currency, balance.minor)
            }
        }
        for transaction in ordered {
            lines += ["", "\(day(transaction.postedAt)) \(transaction.proposal.kind.rawValue) \(transaction.key)"]
            lines.append("    ; tx:\(transaction.id), sequence:\(transaction.sequence), event:\(transaction.proposal.causeEventID)")
            for entry in transaction.entries {
                lines.append("    \(entry.account)    \(amount(entry.amountMinor, entry.currency))")
                add(entry.account, entry.currency, entry.amountMinor)
            }
        }
        let closingDay = day([periodEnd, periodStart, ordered.last?.postedAt].compactMap { $0 }.max() ?? periodEnd)
        if !balances.isEmpty {
            lines += ["", "\(closingDay) closing balance assertions"]
            for balance in balances.values.sorted(by: { ($0.account, $0.currency.rawValue) < ($1.account, $1.currency.rawValue) }) {
                lines.append("    \(balance.account)    \(amount(0, balance.currency)) = \(amount(balance.minor, balance.currency))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `-12345` USD → `-123.45 USD`; JPY → `-12345 JPY`; KWD → `-12.345 KWD`.
    static func amount(_ minor: Int64, _ currency: CurrencyCode) -> String {
        let exponent = currency.minorUnitExponent
        let digits = String(minor.magnitude)
        let sign = minor < 0 ? "-" : ""
        guard exponent > 0 else { return "\(sign)\(digits) \(currency.rawValue)" }
        let padded = String(repeating: "0", count: max(0, exponent + 1 - digits.count)) + digits
        let split = padded.index(padded.endIndex, offsetBy: -exponent)
        return "\(sign)\(padded[..<split]).\(padded[split...]) \(currency.rawValue)"
    }

    private static func power(_ exponent: Int) -> Int64 { (0..<exponent).reduce(1) { value, _ in value * 10 } }

    private static func day(_ date: Date) -> String { String(RFC3339.string(date).prefix(10)) }
}
