import Contracts
import Foundation

/// What an account is, for the trial balance and the journal's account types.
enum LedgerAccountKind: String, Codable, Sendable, CaseIterable {
    case asset, liability, income, expense, equity

    /// hledger's account type letter (`; type: A`).
    var journalType: String {
        switch self {
        case .asset: "A"
        case .liability: "L"
        case .income: "R"
        case .expense: "X"
        case .equity: "E"
        }
    }
}

/// One account of an org's chart. Accounts are created on first use, so the chart is exactly
/// the accounts some transaction touched; the code says what the account is.
struct LedgerAccount: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    var code: String
    var kind: LedgerAccountKind

    var description: String { code }
    static func < (lhs: LedgerAccount, rhs: LedgerAccount) -> Bool { lhs.code < rhs.code }

    /// The money a provider holds for the org between capture and payout (`provider:stripe:clearing`).
    static func clearing(_ provider: WebhookProvider) -> LedgerAccount { LedgerAccount(code: "provider:\(provider.rawValue):clearing", kind: .asset) }
    /// The bank account a provider pays out to (`assets:bank:stripe`).
    static func bank(_ provider: WebhookProvider) -> LedgerAccount { LedgerAccount(code: "assets:bank:\(provider.rawValue)", kind: .asset) }
    /// Sales: credited by each capture.
    static let revenue = LedgerAccount(code: "income:revenue", kind: .income)
    /// Money given back to customers.
    static let refunds = LedgerAccount(code: "expenses:refunds", kind: .expense)
    /// Money withheld by open disputes.
    static let disputesOpen = LedgerAccount(code: "expenses:disputes:open", kind: .expense)
    /// Money lost to disputes the provider decided against the org.
    static let disputesLost = LedgerAccount(code: "expenses:disputes:lost", kind: .expense)
    /// What providers keep per capture or payout.
    static let providerFees = LedgerAccount(code: "expenses:provider_fees", kind: .expense)
    /// Tax collected and owed (invoices, Finance II).
    static let taxPayable = LedgerAccount(code: "liabilities:tax_payable", kind: .liability)
    /// Money received outside any provider that a person recorded (a bank transfer paying an
    /// installment marked paid).
    static let manualReceipts = LedgerAccount(code: "assets:bank:manual", kind: .asset)
    /// What customers owe on issued invoices (Finance II).
    static let receivables = LedgerAccount(code: "assets:receivables", kind: .asset)
    /// The explicit pair a transaction in two currencies must go through: one account per currency.
    static func exchange(_ currency: CurrencyCode) -> LedgerAccount { LedgerAccount(code: "equity:fx:\(currency.rawValue)", kind: .equity) }

    /// Whether the account is one of an exchange pair (the only way one transaction may hold two currencies).
    var isExchange: Bool { code.hasPrefix("equity:fx:") }

    /// The kind an account code implies: the chart is derived from the code alone, so an account
    /// read back from storage or the topic needs nothing else.
    static func kind(of code: String) -> LedgerAccountKind {
        if code.hasPrefix("provider:") || code.hasPrefix("assets:") { return .asset }
        if code.hasPrefix("liabilities:") { return .liability }
        if code.hasPrefix("income:") { return .income }
        if code.hasPrefix("expenses:") { return .expense }
        return .equity
    }
}
