import Contracts
import Foundation

/// Where a payment stands. Derived from the facts a record holds, never set by hand:
/// `processing` (intent created) → `succeeded` | `failed` → `partially_refunded` | `refunded`,
/// and `disputed` while a dispute is open or after one was lost.
enum PaymentStatus: String, Codable, Sendable, CaseIterable {
    case processing, succeeded, failed, partiallyRefunded = "partially_refunded", refunded, disputed
}

/// One dispute of a payment and how it ended.
struct DisputeRecord: Hashable, Sendable, Codable {
    enum Status: String, Codable, Sendable { case open, won, lost }
    var disputeID: String
    var amountMinor: Int64
    var status: Status

    enum CodingKeys: String, CodingKey {
        case disputeID = "dispute_id", amountMinor = "amount_minor", status
    }
}

/// Finance's record of one provider payment, projected from the canonical payment events.
/// Amounts are what the ledger holds for the payment; `LedgerVerification` checks they agree.
struct PaymentRecord: Hashable, Sendable {
    var key: PaymentKey
    var currency: CurrencyCode?
    /// What the intent said would be charged.
    var intendedMinor: Int64?
    var capturedAt: Date?
    var capturedMinor: Int64 = 0
    var feeMinor: Int64 = 0
    var refundedMinor: Int64 = 0
    /// True when an attempt failed before any capture.
    var attemptFailed = false
    var disputes: [DisputeRecord] = []
    var customerRef: String?
    var orderRef: String?

    init(key: PaymentKey) { self.key = key }

    var isCaptured: Bool { capturedAt != nil }

    /// Money withheld by disputes still open.
    var disputedOpenMinor: Int64 { disputes.filter { $0.status == .open }.reduce(0) { $0 + $1.amountMinor } }
    var disputedLostMinor: Int64 { disputes.filter { $0.status == .lost }.reduce(0) { $0 + $1.amountMinor } }

    var status: PaymentStatus {
        guard isCaptured else { return attemptFailed ? .failed : .processing }
        if disputes.contains(where: { $0.status != .won }) { return .disputed }
        if refundedMinor >= capturedMinor { return .refunded }
        return refundedMinor > 0 ? .partiallyRefunded : .succeeded
    }

    /// What may still be refunded by the provider (requests are counted by `RefundRules`).
    var refundableMinor: Int64 { max(0, capturedMinor - refundedMinor) }
}
