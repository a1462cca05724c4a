import Contracts
import Foundation

/// The posting each fact makes (debit +, credit −). `docs/architecture.md` (Finance) shows the same table.
///
/// | fact | entries |
/// |---|---|
/// | capture A, fee F | `provider:p:clearing` +(A−F), `expenses:provider_fees` +F, `income:revenue` −A |
/// | refund R | `expenses:refunds` +R, `provider:p:clearing` −R |
/// | dispute opened D | `expenses:disputes:open` +D, `provider:p:clearing` −D |
/// | dispute won D | `provider:p:clearing` +D, `expenses:disputes:open` −D (reverses the opening) |
/// | dispute lost D | `expenses:disputes:lost` +D, `expenses:disputes:open` −D |
/// | payout P, fees f | `assets:bank:p` +P, `expenses:provider_fees` +f, `provider:p:clearing` −(P+f) |
enum Postings {
    struct Cause: Hashable, Sendable {
        var eventID: String
        var eventType: String
        var occurredAt: Date
    }

    static func capture(_ payment: PaymentKey, amount: Money, fee: Money?, cause: Cause) -> ProposedTransaction {
        let fee = fee.flatMap { $0.currency == amount.currency && $0.amountMinor > 0 ? $0.amountMinor : nil } ?? 0
        var entries = [LedgerEntry(.clearing(payment.provider), amount.amountMinor - fee, amount.currency)]
        if fee > 0 { entries.append(LedgerEntry(.providerFees, fee, amount.currency)) }
        entries.append(LedgerEntry(.revenue, -amount.amountMinor, amount.currency))
        return proposal("\(payment):capture", .capture, payment, entries, cause)
    }

    static func refund(_ payment: PaymentKey, refundID: String, amount: Money, cause: Cause) -> ProposedTransaction {
        proposal(
            "\(payment.provider.rawValue):\(refundID):refund", .refund, payment,
            [LedgerEntry(.refunds, amount.amountMinor, amount.currency), LedgerEntry(.clearing(payment.provider), -amount.amountMinor, amount.currency)], cause)
    }

    static func disputeOpened(_ payment: PaymentKey, disputeID: String, amount: Money, cause: Cause) -> ProposedTransaction {
        proposal(
            disputeKey(payment, disputeID, .disputeOpened), .disputeOpened, payment,
            [LedgerEntry(.disputesOpen, amount.amountMinor, amount.currency), LedgerEntry(.clearing(payment.provider), -amount.amountMinor, amount.currency)], cause)
    }

    static func disputeClosed(_ payment: PaymentKey, disputeID: String, amount: Money, outcome: DisputeOutcome, cause: Cause) -> ProposedTransaction {
        switch outcome {
        case .won:
            var won = proposal(
                disputeKey(payment, disputeID, .disputeWon), .disputeWon, payment,
                [LedgerEntry(.clearing(payment.provider), amount.amountMinor, amount.currency), LedgerEntry(.disputesOpen, -amount.amountMinor, amount.currency)],
                cause)
            won.reversesKey = disputeKey(payment, disputeID, .disputeOpened)
            return won
        case .lost:
            return proposal(
                disputeKey(payment, disputeID, .disputeLost), .disputeLost, payment,
                [LedgerEntry(.disputesLost, amount.amountMinor, amount.currency), LedgerEntry(.disputesOpen, -amount.amountMinor, amount.currency)], cause)
        }
    }

    static func payout(provider: WebhookProvider, payoutID: String, amount: Money, fees: Money?, cause: Cause) -> ProposedTransaction {
        let fees = fees.flatMap { $0.currency == amount.currency && $0.amountMinor > 0 ? $0.amountMinor : nil } ?? 0
        var entries = [LedgerEntry(.bank(provider), amount.amountMinor, amount.currency)]
        if fees > 0 { entries.append(LedgerEntry(.providerFees, fees, amount.currency)) }
        entries.append(LedgerEntry(.clearing(provider), -(amount.amountMinor + fees), amount.currency))
        return proposal("\(provider.rawValue):\(payoutID):payout", .payout, nil, entries, cause)
    }

    static func disputeKey(_ payment: PaymentKey, _ disputeID: String, _ kind: TransactionKind) -> String {
        "\(payment.provider.rawValue):\(disputeID):\(kind.rawValue)"
    }

    private static func proposal(_ key: String, _ kind: TransactionKind, _ payment: PaymentKey?, _ entries: [LedgerEntry], _ cause: Cause) -> ProposedTransaction {
        ProposedTransaction(
            key: key, kind: kind, payment: payment, reversesKey: nil, causeEventID: cause.eventID, causeEventType: cause.eventType,
            occurredAt: LedgerSeal.truncated(cause.occurredAt), entries: entries)
    }
}
