import Contracts
import Foundation

/// Why a fact was refused instead of posted (TigerBeetle's result codes, in spirit): the code
/// is stable for alerts and filters, the field names what differs, and both values are kept.
enum ConflictCode: String, Codable, Sendable, CaseIterable {
    case existsWithDifferentKind = "exists_with_different_kind"
    case existsWithDifferentPayment = "exists_with_different_payment"
    case existsWithDifferentCurrency = "exists_with_different_currency"
    case existsWithDifferentAccounts = "exists_with_different_accounts"
    case existsWithDifferentAmount = "exists_with_different_amount"
    case refundExceedsCapture = "refund_exceeds_capture"
    case disputeExceedsCapture = "dispute_exceeds_capture"
    case currencyDiffersFromCapture = "currency_differs_from_capture"
}

/// A fact the ledger refused, to be listed for a person; nothing was posted for it.
struct LedgerConflict: Hashable, Sendable {
    var key: String
    var code: ConflictCode
    /// The field that differs or the rule that failed, e.g. `entries[income:revenue USD].amount_minor`.
    var field: String
    var recorded: String
    var offered: String
    var causeEventID: String
}

/// Compares a fact offered again under a key the ledger already holds.
enum LedgerIdempotency {
    /// nil when `offered` says the same as `recorded` (the repeat is a no-op); otherwise the
    /// first difference, naming the field. The cause, the event type and the time may differ:
    /// a provider that resends a fact under a new event id states the same money.
    static func difference(recorded: ProposedTransaction, offered: ProposedTransaction) -> LedgerConflict? {
        func conflict(_ code: ConflictCode, _ field: String, _ recordedValue: String, _ offeredValue: String) -> LedgerConflict {
            LedgerConflict(key: offered.key, code: code, field: field, recorded: recordedValue, offered: offeredValue, causeEventID: offered.causeEventID)
        }
        if recorded.kind != offered.kind { return conflict(.existsWithDifferentKind, "kind", recorded.kind.rawValue, offered.kind.rawValue) }
        if recorded.payment != offered.payment {
            return conflict(.existsWithDifferentPayment, "payment", recorded.payment?.description ?? "none", offered.payment?.description ?? "none")
        }
        let recordedCurrencies = Set(recorded.entries.map(\.currency.rawValue)).sorted()
        let offeredCurrencies = Set(offered.entries.map(\.currency.rawValue)).sorted()
        if recordedCurrencies != offeredCurrencies {
            return conflict(.existsWithDifferentCurrency, "currency", recordedCurrencies.joined(separator: ","), offeredCurrencies.joined(separator: ","))
        }
        let recordedLines = lines(recorded.entries)
        let offeredLines = lines(offered.entries)
        if Set(recordedLines.keys) != Set(offeredLines.keys) {
            return conflict(
                .existsWithDifferentAccounts, "entries", recordedLines.keys.sorted().joined(separator: ","), offeredLines.keys.sorted().joined(separator: ","))
        }
        for line in recordedLines.keys.sorted() where recordedLines[line] != offeredLines[line] {
            return conflict(.existsWithDifferentAmount, "entries[\(line)].amount_minor", "\(recordedLines[line] ?? 0)", "\(offeredLines[line] ?? 0)")
        }
        return nil
    }

    /// Amount per "account currency" line: the order entries were written in does not matter.
    private static func lines(_ entries: [LedgerEntry]) -> [String: Int64] {
        var lines: [String: Int64] = [:]
        for entry in entries { lines["\(entry.account) \(entry.currency.rawValue)", default: 0] += entry.amountMinor }
        return lines
    }
}
