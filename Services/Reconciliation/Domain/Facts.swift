import Contracts
import Foundation

/// A calendar day in UTC (`2026-11-23`), the grain of payout arrival dates and bank booking
/// dates. Stored as days since 1970-01-01 so windows are plain integer arithmetic.
struct BankDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    let daysSinceEpoch: Int

    init(daysSinceEpoch: Int) { self.daysSinceEpoch = daysSinceEpoch }

    /// Parses `YYYY-MM-DD`; nil for anything else (including impossible dates such as 2026-02-30).
    init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: DateComponents(year: year, month: month, day: day)),
            calendar.component(.day, from: date) == day, calendar.component(.month, from: date) == month
        else { return nil }
        self.init(date)
    }

    /// The UTC day an instant falls on.
    init(_ instant: Date) {
        self.daysSinceEpoch = Int((instant.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    /// Midnight UTC at the start of the day.
    var start: Date { Date(timeIntervalSince1970: Double(daysSinceEpoch) * 86_400) }

    func adding(days: Int) -> BankDay { BankDay(daysSinceEpoch: daysSinceEpoch + days) }

    var description: String { String(RFC3339.string(start).prefix(10)) }

    static func < (lhs: BankDay, rhs: BankDay) -> Bool { lhs.daysSinceEpoch < rhs.daysSinceEpoch }
}

/// A payment the provider captured: the second leg's anchor. Recorded from `payment.captured`.
struct CapturedPayment: Equatable, Sendable {
    var provider: WebhookProvider
    var paymentID: String
    var amount: Money
    /// The provider's fee, taken before the payout.
    var fee: Money?
    var orderRef: String?
    /// Set for subscription and invoice payments: finance reconciles those against invoices, so
    /// they are not expected to have an order.
    var invoiceRef: String?
    var subscriptionRef: String?
    var capturedAt: Date
    var sourceEventID: String

    /// What the provider pays out for it: the amount less its fee (same currency only).
    var net: Int64 {
        guard let fee, fee.currency == amount.currency else { return amount.amountMinor }
        return amount.amountMinor - fee.amountMinor
    }

    /// Whether the payment belongs to an invoice rather than an order.
    var billsAnInvoice: Bool { invoiceRef != nil || subscriptionRef != nil }
}

/// Money that went back out of a payment: a refund or a dispute's withdrawal; a won dispute
/// gives the withdrawal back (a negative amount).
struct PaymentAdjustment: Equatable, Sendable {
    enum Kind: String, Sendable, Codable {
        case refund, dispute
        case disputeWon = "dispute_won"
    }
    var kind: Kind
    var adjustmentID: String
    var paymentID: String
    var amount: Money
    var occurredAt: Date
    var sourceEventID: String
}

/// A deposit a provider announced (`payout.paid`).
struct ProviderPayout: Equatable, Sendable {
    var provider: WebhookProvider
    var payoutID: String
    var amount: Money
    var fees: Money?
    var arrival: BankDay
    /// The payments it pays out when the provider lists them; empty when it does not (then they
    /// are found by amount and date).
    var paymentRefs: [String]
    var sourceEventID: String
}

/// One booked line of a bank statement.
struct BankLine: Equatable, Sendable {
    var accountID: String
    /// Unique per account: the bank's own reference for the line.
    var bankReference: String
    var statementID: String
    var booked: BankDay
    /// Signed: credits (deposits) positive, debits negative.
    var amount: Money
    /// The remittance text the bank shows (may name the payout).
    var text: String

    /// The words of the text a payout id is looked for in: letters, digits and `_`, `-`.
    var tokens: Set<String> { BankLine.tokens(of: text) }

    static func tokens(of text: String) -> Set<String> {
        var words = Set<String>()
        var current = ""
        for character in text.unicodeScalars {
            if CharacterSet.alphanumerics.contains(character) || character == "_" || character == "-" {
                current.unicodeScalars.append(character)
            } else if !current.isEmpty {
                words.insert(current.lowercased())
                current = ""
            }
        }
        if !current.isEmpty { words.insert(current.lowercased()) }
        return words
    }

    /// Whether the text names this payout (a whole word, case-insensitive).
    func mentions(_ payoutID: String) -> Bool { tokens.contains(payoutID.lowercased()) }
}

/// A bank account statements are uploaded for, with how long its bank takes to book a payout.
struct BankAccount: Equatable, Sendable {
    var accountID: String
    var currency: CurrencyCode
    /// Days after a payout's arrival date its bank line may still be booked.
    var settlementWindowDays: Int
}

/// One item reconciliation keeps a status for.
enum ItemRef: Hashable, Comparable, Sendable, CustomStringConvertible {
    case order(String)
    case payment(String)
    case payout(String)
    case bankLine(account: String, reference: String)

    var kind: String {
        switch self {
        case .order: "order"
        case .payment: "payment"
        case .payout: "payout"
        case .bankLine: "bank_line"
        }
    }

    var id: String {
        switch self {
        case .order(let id), .payment(let id), .payout(let id): id
        case .bankLine(let account, let reference): "\(account)/\(reference)"
        }
    }

    /// `order:ord_1`, `bank_line:acc_1/REF9`.
    var description: String { "\(kind):\(id)" }

    /// Parses the `description` form.
    init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let kind = text[..<colon]
        let id = String(text[text.index(after: colon)...])
        guard !id.isEmpty else { return nil }
        switch kind {
        case "order": self = .order(id)
        case "payment": self = .payment(id)
        case "payout": self = .payout(id)
        case "bank_line":
            guard let slash = id.firstIndex(of: "/") else { return nil }
            self = .bankLine(account: String(id[..<slash]), reference: String(id[id.index(after: slash)...]))
        default: return nil
        }
    }

    static func < (lhs: ItemRef, rhs: ItemRef) -> Bool { lhs.description < rhs.description }
}

/// The facts matching looks at together: everything connected to the items being re-checked.
struct ReconciliationFacts: Equatable, Sendable {
    var orders: [String: ExpectedOrder] = [:]
    var payments: [String: CapturedPayment] = [:]
    var adjustments: [String: [PaymentAdjustment]] = [:]
    var payouts: [String: ProviderPayout] = [:]
    var bankLines: [ItemRef: BankLine] = [:]
    var accounts: [String: BankAccount] = [:]

    var items: Set<ItemRef> {
        var items = Set<ItemRef>()
        items.formUnion(orders.keys.map(ItemRef.order))
        items.formUnion(payments.keys.map(ItemRef.payment))
        items.formUnion(payouts.keys.map(ItemRef.payout))
        items.formUnion(bankLines.keys)
        return items
    }

    mutating func add(_ order: ExpectedOrder) { orders[order.orderID] = order }
    mutating func add(_ payment: CapturedPayment) { payments[payment.paymentID] = payment }
    mutating func add(_ adjustment: PaymentAdjustment) {
        var list = adjustments[adjustment.paymentID] ?? []
        guard !list.contains(where: { $0.kind == adjustment.kind && $0.adjustmentID == adjustment.adjustmentID }) else { return }
        list.append(adjustment)
        adjustments[adjustment.paymentID] = list.sorted { ($0.kind.rawValue, $0.adjustmentID) < ($1.kind.rawValue, $1.adjustmentID) }
    }
    mutating func add(_ payout: ProviderPayout) { payouts[payout.payoutID] = payout }
    mutating func add(_ line: BankLine) { bankLines[.bankLine(account: line.accountID, reference: line.bankReference)] = line }
}
