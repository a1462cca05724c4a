import Contracts
import Foundation

/// A check as stored, with how many times it changed.
struct RecordedCheck: Equatable, Sendable {
    var check: Check
    var revision: Int
}

/// A discrepancy as stored, with its stable id.
struct RecordedDiscrepancy: Equatable, Sendable {
    var id: String
    var discrepancy: Discrepancy
}

/// One ledger transaction finance posted, as the trail shows it.
struct LedgerTrailEntry: Equatable, Sendable {
    var transactionID: Int64
    var sequence: Int64
    var key: String
    var kind: String
    /// The payment or payout the transaction is about (from its payment reference or its key).
    var subject: String?
    var postedAt: Date
    var entries: [LedgerPostingEntry]
}

/// The reconciliation schema of one org, inside the caller's tenant transaction: the facts
/// (idempotent inserts: a fact recorded again changes nothing), the checks and discrepancies
/// matching keeps, and the outbox. All SQL lives in the PostgreSQL implementation.
protocol ReconciliationStore: ExpectedOrderStore, FactLookup {
    /// Each returns false when the fact was already recorded.
    func record(_ payment: CapturedPayment) async throws -> Bool
    func record(_ adjustment: PaymentAdjustment) async throws -> Bool
    func record(_ payout: ProviderPayout) async throws -> Bool
    func record(_ posting: LedgerTrailEntry) async throws -> Bool

    func settings() async throws -> MatchingSettings
    func checks(keys: Set<String>) async throws -> [String: RecordedCheck]
    func save(_ check: RecordedCheck, now: Date) async throws
    func discrepancies(checkKeys: Set<String>) async throws -> [String: [RecordedDiscrepancy]]
    func save(_ discrepancy: RecordedDiscrepancy, now: Date) async throws
    func enqueue(_ message: OutboxMessage) async throws
    /// Records when the org's earliest expected check falls due (what the scheduled run reads).
    func refreshDeadline() async throws
}
