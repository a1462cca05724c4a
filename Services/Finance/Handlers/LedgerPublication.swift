import Contracts
import Foundation
import Storage

/// The `ledger.transaction.posted` message for a posted transaction. Its id is derived from the
/// org and the transaction key, so reprocessing the same fact can never publish a second copy.
enum LedgerPublication {
    static func message(_ posted: PostedTransaction, tenant: TenantID, correlationID: String, causationID: String, now: Date) throws -> OutboxMessage {
        let payload = LedgerTransactionPosted(
            ledger: tenant.rawValue, transactionID: posted.id, sequence: posted.sequence, key: posted.key, kind: posted.proposal.kind.rawValue,
            payment: posted.proposal.payment.map { LedgerPaymentReference(provider: $0.provider, paymentID: $0.paymentID) }, reverses: posted.reverses,
            causeEventID: posted.proposal.causeEventID, causeEventType: posted.proposal.causeEventType, occurredAt: posted.proposal.occurredAt,
            postedAt: posted.postedAt, entries: posted.entries.map { LedgerPostingEntry(account: $0.account, currency: $0.currency, amountMinor: $0.amountMinor) },
            contentSHA256: posted.contentHash, chainSHA256: posted.chainHash)
        return try OutboxMessage(
            EventEnvelope(
                id: eventID(tenant: tenant, key: posted.key), source: "/tally/finance", time: now, tenant: tenant.rawValue, correlationID: correlationID,
                causationID: causationID, data: payload))
    }

    static func eventID(tenant: TenantID, key: String) -> String {
        "ledger-" + ContentHash.sha256Hex(Array("\(tenant.rawValue)\n\(key)".utf8)).prefix(32)
    }
}
