import Contracts
import Foundation

/// The books' consistency check (the seed's "npm run verify — Financial Consistency"), over
/// everything one org's ledger holds. Pure: the store loads, this decides.
struct LedgerVerification: Hashable, Sendable {
    struct Check: Hashable, Sendable {
        var name: String
        var ok: Bool
        var detail: String
        /// The first failing item (a transaction id, a payment, a conflict id).
        var item: String?
    }

    struct OpenConflict: Hashable, Sendable {
        var id: Int64
        var key: String
        var createdAt: Date
    }

    var checks: [Check]
    var transactionCount: Int

    var ok: Bool { checks.allSatisfy(\.ok) }
    var firstFailure: Check? { checks.first { !$0.ok } }

    /// How old an unresolved conflict may be before the books count as unchecked.
    static let conflictAge: TimeInterval = 24 * 3600

    /// Where the org's chain head says the ledger ends (`ledger_heads`); nil when not known.
    struct Head: Hashable, Sendable {
        var sequence: Int64
        var chainHash: String
    }

    init(transactions: [PostedTransaction], payments: [PaymentRecord], openConflicts: [OpenConflict], head: Head? = nil, now: Date, hash: LedgerSeal.Hash) {
        let ordered = transactions.sorted { $0.sequence < $1.sequence }
        transactionCount = ordered.count
        let byPayment = Self.entriesByPayment(ordered)
        checks = [
            Self.balanced(ordered), Self.trialBalance(ordered), Self.paymentsMatch(byPayment, payments), Self.refundsWithinCaptures(byPayment),
            Self.chain(ordered, head: head, hash: hash), Self.staleConflicts(openConflicts, now: now),
        ]
    }

    private static func balanced(_ transactions: [PostedTransaction]) -> Check {
        for transaction in transactions {
            do throws(UnbalancedTransaction) {
                try transaction.proposal.checkBalanced()
            } catch {
                return Check(name: "transactions_balanced", ok: false, detail: error.description, item: "\(transaction.id)")
            }
        }
        return Check(name: "transactions_balanced", ok: true, detail: "\(transactions.count) transactions balance per currency", item: nil)
    }

    private static func trialBalance(_ transactions: [PostedTransaction]) -> Check {
        let sums = LedgerMath.sums(transactions.flatMap(\.entries))
        if let (currency, sum) = sums.first(where: { $0.1 != 0 }) {
            return Check(name: "trial_balance_zero", ok: false, detail: "the trial balance in \(currency) is \(sum), not 0", item: currency.rawValue)
        }
        return Check(name: "trial_balance_zero", ok: true, detail: "zero in \(sums.count) currencies", item: nil)
    }

    /// Each payment's record states what its transactions hold: captured = −revenue,
    /// refunded = refunds, open disputes = the open-disputes balance.
    /// Every payment's entries, across its transactions.
    private static func entriesByPayment(_ transactions: [PostedTransaction]) -> [PaymentKey: [LedgerEntry]] {
        var byPayment: [PaymentKey: [LedgerEntry]] = [:]
        for transaction in transactions { if let payment = transaction.proposal.payment { byPayment[payment, default: []] += transaction.entries } }
        return byPayment
    }

    private static func paymentsMatch(_ byPayment: [PaymentKey: [LedgerEntry]], _ payments: [PaymentRecord]) -> Check {
        for payment in payments.sorted(by: { $0.key.description < $1.key.description }) {
            let entries = byPayment[payment.key] ?? []
            let stated: [(String, Int64, Int64)] = [
                ("captured", payment.capturedMinor, -LedgerMath.total(entries, account: .revenue)),
                ("refunded", payment.refundedMinor, LedgerMath.total(entries, account: .refunds)),
                ("disputed", payment.disputedOpenMinor, LedgerMath.total(entries, account: .disputesOpen)),
            ]
            if let (name, record, ledger) = stated.first(where: { $0.1 != $0.2 }) {
                return Check(
                    name: "payments_match_ledger", ok: false, detail: "payment \(payment.key) records \(name) \(record) but its ledger holds \(ledger)",
                    item: payment.key.description)
            }
        }
        return Check(name: "payments_match_ledger", ok: true, detail: "\(payments.count) payments agree with their transactions", item: nil)
    }

    private static func refundsWithinCaptures(_ byPayment: [PaymentKey: [LedgerEntry]]) -> Check {
        for (payment, entries) in byPayment.sorted(by: { $0.key.description < $1.key.description }) {
            let captured = -LedgerMath.total(entries, account: .revenue)
            let refunded = LedgerMath.total(entries, account: .refunds)
            if refunded > captured {
                return Check(name: "refunds_within_captures", ok: false, detail: "payment \(payment) refunds \(refunded) of a \(captured) capture", item: payment.description)
            }
        }
        return Check(name: "refunds_within_captures", ok: true, detail: "no payment refunds more than it captured", item: nil)
    }

    /// Every link recomputed from the genesis; the last one must be the head the ledger
    /// recorded, so removing the newest transactions is caught too.
    private static func chain(_ transactions: [PostedTransaction], head: Head?, hash: LedgerSeal.Hash) -> Check {
        var previous = LedgerSeal.genesis
        for (index, transaction) in transactions.enumerated() {
            guard transaction.sequence == Int64(index + 1) else {
                return Check(
                    name: "hash_chain_intact", ok: false, detail: "sequence \(index + 1) is missing (found \(transaction.sequence))", item: "\(transaction.id)")
            }
            let content = hash(LedgerSeal.content(of: transaction.proposal, sequence: transaction.sequence, reverses: transaction.reverses, postedAt: transaction.postedAt))
            guard content == transaction.contentHash else {
                return Check(
                    name: "hash_chain_intact", ok: false, detail: "transaction \(transaction.id) (sequence \(transaction.sequence)) does not match its content hash",
                    item: "\(transaction.id)")
            }
            let chained = LedgerSeal.chain(previous: previous, content: content, hash: hash)
            guard chained == transaction.chainHash else {
                return Check(
                    name: "hash_chain_intact", ok: false, detail: "transaction \(transaction.id) (sequence \(transaction.sequence)) breaks the chain",
                    item: "\(transaction.id)")
            }
            previous = chained
        }
        if let head, head.sequence != Int64(transactions.count) || head.chainHash != previous {
            return Check(
                name: "hash_chain_intact", ok: false,
                detail:
                    "the ledger's head is sequence \(head.sequence) but the transactions end at \(transactions.count): transactions are missing or were added around the service",
                item: transactions.last.map { "\($0.id)" })
        }
        return Check(name: "hash_chain_intact", ok: true, detail: "\(transactions.count) links verified up to the recorded head", item: nil)
    }

    private static func staleConflicts(_ conflicts: [OpenConflict], now: Date) -> Check {
        let stale = conflicts.filter { now.timeIntervalSince($0.createdAt) > conflictAge }.sorted { $0.id < $1.id }
        if let first = stale.first {
            return Check(name: "no_stale_conflicts", ok: false, detail: "\(stale.count) conflicts unresolved for over a day; first: \(first.key)", item: "\(first.id)")
        }
        return Check(name: "no_stale_conflicts", ok: true, detail: "\(conflicts.count) open conflicts, none older than a day", item: nil)
    }
}
