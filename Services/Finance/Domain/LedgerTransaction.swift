import Contracts
import Foundation

/// One line of a transaction: an amount on an account. Debits are positive, credits negative.
struct LedgerEntry: Hashable, Sendable, Codable {
    var account: String
    var currency: CurrencyCode
    var amountMinor: Int64

    init(_ account: LedgerAccount, _ amountMinor: Int64, _ currency: CurrencyCode) {
        self.account = account.code
        self.currency = currency
        self.amountMinor = amountMinor
    }

    init(account: String, currency: CurrencyCode, amountMinor: Int64) {
        self.account = account
        self.currency = currency
        self.amountMinor = amountMinor
    }

    enum CodingKeys: String, CodingKey {
        case account, currency, amountMinor = "amount_minor"
    }
}

/// What a transaction is about; the posting rules in `Postings` say which entries each makes.
enum TransactionKind: String, Codable, Sendable, CaseIterable {
    case capture, refund, disputeOpened = "dispute_opened", disputeWon = "dispute_won", disputeLost = "dispute_lost", payout
    case invoiceIssued = "invoice_issued", invoiceSettled = "invoice_settled", invoiceVoided = "invoice_voided", creditNote = "credit_note"
}

/// The provider payment a transaction belongs to.
struct PaymentKey: Hashable, Sendable, Codable, CustomStringConvertible {
    var provider: WebhookProvider
    var paymentID: String

    var description: String { "\(provider.rawValue):\(paymentID)" }

    enum CodingKeys: String, CodingKey {
        case provider, paymentID = "payment_id"
    }
}

/// A transaction before it is posted: what a posting rule decided. Its `key` makes it
/// idempotent: the ledger holds at most one transaction per key and org.
struct ProposedTransaction: Hashable, Sendable {
    /// `<provider>:<provider object id>:<kind>`: a provider reference, so the same fact sent
    /// again under a new event id posts nothing new.
    var key: String
    var kind: TransactionKind
    var payment: PaymentKey?
    /// The key of the transaction this one reverses (a dispute won reverses its opening).
    var reversesKey: String?
    var causeEventID: String
    var causeEventType: String
    /// When the fact happened at the provider.
    var occurredAt: Date
    var entries: [LedgerEntry]
}

/// Why a proposed transaction cannot be posted as it is.
enum UnbalancedTransaction: Error, Equatable, CustomStringConvertible {
    case tooFewEntries(key: String, count: Int)
    case zeroAmount(key: String, account: String)
    case notBalanced(key: String, currency: CurrencyCode, sum: Int64)
    case currenciesMixedWithoutExchange(key: String, currencies: [CurrencyCode])

    var description: String {
        switch self {
        case .tooFewEntries(let key, let count): "transaction \(key) has \(count) entries; a transaction needs at least two"
        case .zeroAmount(let key, let account): "transaction \(key) has a zero entry on \(account)"
        case .notBalanced(let key, let currency, let sum): "transaction \(key) does not balance in \(currency): its entries sum to \(sum)"
        case .currenciesMixedWithoutExchange(let key, let currencies):
            "transaction \(key) mixes \(currencies.map(\.rawValue).joined(separator: ", ")) without an exchange account pair"
        }
    }
}

extension ProposedTransaction {
    /// Checks double entry: at least two non-zero entries, each currency summing to zero, and
    /// more than one currency only through exchange accounts. The database checks the same
    /// again (a deferred constraint trigger), so a bug here cannot post an unbalanced row.
    func checkBalanced() throws(UnbalancedTransaction) {
        guard entries.count >= 2 else { throw .tooFewEntries(key: key, count: entries.count) }
        if let zero = entries.first(where: { $0.amountMinor == 0 }) { throw .zeroAmount(key: key, account: zero.account) }
        for (currency, sum) in LedgerMath.sums(entries) where sum != 0 { throw .notBalanced(key: key, currency: currency, sum: sum) }
        let currencies = Set(entries.map(\.currency))
        if currencies.count > 1 {
            let throughExchange = currencies.allSatisfy { currency in entries.contains { $0.currency == currency && LedgerAccount(code: $0.account, kind: .equity).isExchange } }
            if !throughExchange { throw .currenciesMixedWithoutExchange(key: key, currencies: currencies.sorted { $0.rawValue < $1.rawValue }) }
        }
    }
}

/// Sums over entries, per currency or per account and currency, in a stable order.
enum LedgerMath {
    static func sums(_ entries: [LedgerEntry]) -> [(CurrencyCode, Int64)] {
        var totals: [CurrencyCode: Int64] = [:]
        for entry in entries { totals[entry.currency, default: 0] += entry.amountMinor }
        return totals.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.key, $0.value) }
    }

    /// The entries' total on one account in one currency.
    static func total(_ entries: [LedgerEntry], account: LedgerAccount, currency: CurrencyCode? = nil) -> Int64 {
        entries.reduce(0) { sum, entry in
            entry.account == account.code && (currency == nil || entry.currency == currency) ? sum + entry.amountMinor : sum
        }
    }
}

/// A transaction as the ledger holds it: immutable once written.
struct PostedTransaction: Hashable, Sendable {
    var id: Int64
    /// 1, 2, 3… per org, without gaps: the order of the hash chain.
    var sequence: Int64
    var proposal: ProposedTransaction
    /// The id of the transaction this one reverses.
    var reverses: Int64?
    var postedAt: Date
    /// SHA-256 of `LedgerSeal.content(…)`, lowercase hex.
    var contentHash: String
    /// SHA-256 of the previous transaction's chain hash and this content hash.
    var chainHash: String

    var key: String { proposal.key }
    var entries: [LedgerEntry] { proposal.entries }
}
