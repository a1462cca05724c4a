import Contracts
import Foundation

/// A provider's deposit to the org's bank, as finance records it.
struct PayoutRecord: Hashable, Sendable {
    enum Status: String, Codable, Sendable, CaseIterable { case paid, failed, canceled }

    var provider: WebhookProvider
    var payoutID: String
    var status: Status
    var amount: Money
    var fees: Money?
    /// `YYYY-MM-DD`, the day the provider says the money reaches the bank.
    var arrivalDate: String
    var occurredAt: Date
    var paymentRefs: [String]
    var transactionID: Int64?
}

/// The payout decider: a new payout posts bank against clearing; a repeat posts nothing; the
/// same payout id with other money is refused naming the field.
///
/// A payout is posted when it arrives even if some of its payments were not seen yet: the
/// clearing balance then shows a negative amount until they arrive, which the balances and the
/// statement make visible (nothing is netted away).
enum PayoutBook {
    enum Decision: Hashable, Sendable {
        case record(PayoutRecord, post: ProposedTransaction)
        case repeated
        case refuse(LedgerConflict)
    }

    static func decide(_ paid: PayoutPaid, cause: Postings.Cause, recorded: ProposedTransaction?) -> Decision {
        let proposal = Postings.payout(provider: paid.origin.provider, payoutID: paid.payoutID, amount: paid.amount, fees: paid.fees, cause: cause)
        if let recorded {
            return LedgerIdempotency.difference(recorded: recorded, offered: proposal).map(Decision.refuse) ?? .repeated
        }
        let record = PayoutRecord(
            provider: paid.origin.provider, payoutID: paid.payoutID, status: .paid, amount: paid.amount, fees: paid.fees, arrivalDate: paid.arrivalDate,
            occurredAt: paid.origin.occurredAt, paymentRefs: paid.paymentRefs, transactionID: nil)
        return .record(record, post: proposal)
    }

    static func key(provider: WebhookProvider, payoutID: String) -> String { "\(provider.rawValue):\(payoutID):payout" }
}

/// The payout report: counts and amounts per status and currency over a period.
struct PayoutReport: Hashable, Sendable {
    struct Group: Hashable, Sendable {
        var status: PayoutRecord.Status
        var currency: CurrencyCode
        var count: Int
        var amountMinor: Int64
    }
    var groups: [Group]
    var recent: [PayoutRecord]

    /// Groups `payouts` by status then currency (both sorted) and keeps the `recentLimit` newest.
    init(_ payouts: [PayoutRecord], recentLimit: Int = 10) {
        var totals: [String: Group] = [:]
        for payout in payouts {
            let name = "\(payout.status.rawValue) \(payout.amount.currency.rawValue)"
            var group = totals[name] ?? Group(status: payout.status, currency: payout.amount.currency, count: 0, amountMinor: 0)
            group.count += 1
            group.amountMinor += payout.amount.amountMinor
            totals[name] = group
        }
        groups = totals.sorted { $0.key < $1.key }.map(\.value)
        recent = Array(payouts.sorted { ($0.occurredAt, $0.payoutID) > ($1.occurredAt, $1.payoutID) }.prefix(recentLimit))
    }
}
