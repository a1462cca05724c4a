import Contracts
import Foundation

/// What one canonical payment event does to the payment's record and the ledger.
struct PaymentDecision: Hashable, Sendable {
    enum Action: Hashable, Sendable {
        /// Post this transaction (its key is new).
        case post(ProposedTransaction)
        /// Keep the event and decide it again when its predecessor arrives.
        case hold(HoldReason)
        /// Refuse the fact and list the conflict for a person; nothing is posted.
        case refuse(LedgerConflict)
        /// Nothing to post: the record may still change (an intent, a failed attempt) or the
        /// event repeats a transaction already posted.
        case none
    }

    /// The record after the event (unchanged when the event is held, refused or a repeat).
    var record: PaymentRecord
    var action: Action
    /// One line for the payment's timeline, e.g. `repeat of stripe:pi_1:capture`.
    var note: String?
}

/// Why an event waits.
enum HoldReason: String, Hashable, Sendable, Codable {
    /// A refund or dispute of a payment whose capture has not arrived.
    case awaitingCapture = "awaiting_capture"
    /// A dispute's outcome before the dispute itself.
    case awaitingDispute = "awaiting_dispute"
}

/// The payment decider: given the record (nil when the payment is new), the fact and the
/// transaction the ledger already holds under the fact's key (if any), the new record and
/// what to post. Pure: the same inputs always give the same decision, so a replayed sequence
/// of events leaves the same books.
///
/// Guarantees:
/// - A fact posts at most once: a repeat with the same content is `.none`, with other
///   content `.refuse` naming the field (`LedgerIdempotency`).
/// - A refund or dispute never posts before its capture (`.hold`), and a refund never takes the
///   refunds above the capture (`.refuse(refund_exceeds_capture)`).
/// - A late event never rolls the record back: a failed attempt after a capture, or an intent
///   after anything else, changes no status.
enum PaymentBook {
    /// The transaction `fact` would post given `record`, or nil for facts that post nothing.
    /// The handler looks this key up in the ledger before calling `decide`.
    static func proposal(for fact: PaymentFact, record: PaymentRecord?, cause: Postings.Cause) -> ProposedTransaction? {
        let payment = fact.payment
        switch fact {
        case .intentCreated, .failed:
            return nil
        case .captured(let captured):
            return Postings.capture(payment, amount: captured.amount, fee: captured.fee, cause: cause)
        case .refunded(let refunded):
            return Postings.refund(payment, refundID: refunded.refundID, amount: refunded.amount, cause: cause)
        case .disputed(let disputed):
            return Postings.disputeOpened(payment, disputeID: disputed.disputeID, amount: disputed.amount, cause: cause)
        case .disputeClosed(let closed):
            // The closing moves what the opening withheld, whatever amount the closing states.
            let opened = record?.disputes.first { $0.disputeID == closed.disputeID }
            let amount = Money(amountMinor: opened?.amountMinor ?? closed.amount.amountMinor, currency: record?.currency ?? closed.amount.currency)
            return Postings.disputeClosed(payment, disputeID: closed.disputeID, amount: amount, outcome: closed.outcome, cause: cause)
        }
    }

    static func decide(record existing: PaymentRecord?, fact: PaymentFact, proposal: ProposedTransaction?, recorded: ProposedTransaction?) -> PaymentDecision {
        let before = existing ?? PaymentRecord(key: fact.payment)
        if let proposal, let recorded {
            if let conflict = LedgerIdempotency.difference(recorded: recorded, offered: proposal) {
                return PaymentDecision(record: before, action: .refuse(conflict), note: "refused: \(conflict.code.rawValue) on \(conflict.field)")
            }
            return PaymentDecision(record: before, action: .none, note: "repeat of \(recorded.key)")
        }
        var record = before
        switch fact {
        case .intentCreated(let intent):
            if record.intendedMinor == nil { record.intendedMinor = intent.amount.amountMinor }
            if record.currency == nil { record.currency = intent.amount.currency }
            record.customerRef = record.customerRef ?? intent.customerRef
            record.orderRef = record.orderRef ?? intent.orderRef
            return PaymentDecision(record: record, action: .none, note: "intent created")
        case .failed(let failed):
            guard !record.isCaptured else { return PaymentDecision(record: record, action: .none, note: "failed attempt after the capture: no change") }
            record.attemptFailed = true
            if record.currency == nil { record.currency = failed.amount.currency }
            record.customerRef = record.customerRef ?? failed.customerRef
            return PaymentDecision(record: record, action: .none, note: "attempt failed: \(failed.reasonCode)")
        case .captured(let captured):
            guard let proposal else { return PaymentDecision(record: record, action: .none, note: nil) }
            record.capturedAt = captured.origin.occurredAt
            record.capturedMinor = captured.amount.amountMinor
            record.currency = captured.amount.currency
            record.feeMinor = LedgerMath.total(proposal.entries, account: .providerFees)
            record.customerRef = captured.customerRef ?? record.customerRef
            record.orderRef = captured.orderRef ?? record.orderRef
            return PaymentDecision(record: record, action: .post(proposal), note: "captured")
        case .refunded(let refunded):
            guard let proposal else { return PaymentDecision(record: record, action: .none, note: nil) }
            guard record.isCaptured, let currency = record.currency else { return PaymentDecision(record: record, action: .hold(.awaitingCapture), note: "held: awaiting capture") }
            if refunded.amount.currency != currency {
                return refuse(record, proposal, .currencyDiffersFromCapture, "amount.currency", currency.rawValue, refunded.amount.currency.rawValue)
            }
            guard record.refundedMinor + refunded.amount.amountMinor <= record.capturedMinor else {
                return refuse(
                    record, proposal, .refundExceedsCapture, "amount.amount_minor", "refundable \(record.refundableMinor) of \(record.capturedMinor)",
                    "\(refunded.amount.amountMinor)")
            }
            record.refundedMinor += refunded.amount.amountMinor
            return PaymentDecision(record: record, action: .post(proposal), note: "refunded \(refunded.amount.amountMinor)")
        case .disputed(let disputed):
            guard let proposal else { return PaymentDecision(record: record, action: .none, note: nil) }
            guard record.isCaptured, let currency = record.currency else { return PaymentDecision(record: record, action: .hold(.awaitingCapture), note: "held: awaiting capture") }
            if disputed.amount.currency != currency {
                return refuse(record, proposal, .currencyDiffersFromCapture, "amount.currency", currency.rawValue, disputed.amount.currency.rawValue)
            }
            guard disputed.amount.amountMinor <= record.capturedMinor else {
                return refuse(record, proposal, .disputeExceedsCapture, "amount.amount_minor", "\(record.capturedMinor)", "\(disputed.amount.amountMinor)")
            }
            record.disputes.append(DisputeRecord(disputeID: disputed.disputeID, amountMinor: disputed.amount.amountMinor, status: .open))
            return PaymentDecision(record: record, action: .post(proposal), note: "dispute \(disputed.disputeID) opened")
        case .disputeClosed(let closed):
            guard let proposal else { return PaymentDecision(record: record, action: .none, note: nil) }
            guard let index = record.disputes.firstIndex(where: { $0.disputeID == closed.disputeID }) else {
                return PaymentDecision(record: record, action: .hold(.awaitingDispute), note: "held: awaiting dispute \(closed.disputeID)")
            }
            guard record.disputes[index].status == .open else {
                return PaymentDecision(record: record, action: .none, note: "dispute \(closed.disputeID) already \(record.disputes[index].status.rawValue)")
            }
            record.disputes[index].status = closed.outcome == .won ? .won : .lost
            return PaymentDecision(record: record, action: .post(proposal), note: "dispute \(closed.disputeID) \(closed.outcome.rawValue)")
        }
    }

    private static func refuse(
        _ record: PaymentRecord, _ proposal: ProposedTransaction, _ code: ConflictCode, _ field: String, _ recorded: String, _ offered: String
    ) -> PaymentDecision {
        let conflict = LedgerConflict(key: proposal.key, code: code, field: field, recorded: recorded, offered: offered, causeEventID: proposal.causeEventID)
        return PaymentDecision(record: record, action: .refuse(conflict), note: "refused: \(code.rawValue)")
    }
}
