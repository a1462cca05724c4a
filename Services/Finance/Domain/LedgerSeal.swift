import Contracts
import Foundation

/// The hash chain of an org's ledger. Each transaction's content hash covers everything it
/// says (key, kind, payment, cause, times, sequence, entries); its chain hash covers the previous
/// transaction's chain hash and its own content hash. Changing, inserting or removing a row
/// behind the service's back breaks the chain from that row on, and `LedgerVerification` names it.
///
/// The hash function is passed in (SHA-256 as lowercase hex, `ContentHash.sha256Hex`) so the
/// domain stays free of a crypto dependency.
enum LedgerSeal {
    typealias Hash = @Sendable ([UInt8]) -> String

    /// The chain hash before the first transaction.
    static let genesis = String(repeating: "0", count: 64)

    /// The exact bytes the content hash is taken over: canonical JSON, sorted keys, times as
    /// integer milliseconds since 1970 (rounded, so a time read back from PostgreSQL's
    /// microseconds hashes the same).
    static func content(of proposal: ProposedTransaction, sequence: Int64, reverses: Int64?, postedAt: Date) -> [UInt8] {
        let sealed = Sealed(
            sequence: sequence, key: proposal.key, kind: proposal.kind.rawValue, payment: proposal.payment, reverses: reverses,
            causeEventID: proposal.causeEventID, causeEventType: proposal.causeEventType, occurredAtMillis: millis(proposal.occurredAt),
            postedAtMillis: millis(postedAt), entries: proposal.entries)
        // Encoding plain strings, integers and arrays of them cannot fail.
        return (try? CanonicalJSON.encode(sealed)) ?? []
    }

    static func chain(previous: String, content: String, hash: Hash) -> String {
        hash(Array("\(previous)\(content)".utf8))
    }

    /// Seals `proposal` as the transaction after `previousChainHash`.
    static func seal(
        _ proposal: ProposedTransaction, id: Int64, sequence: Int64, reverses: Int64?, postedAt: Date, previousChainHash: String, hash: Hash
    ) -> PostedTransaction {
        let contentHash = hash(content(of: proposal, sequence: sequence, reverses: reverses, postedAt: postedAt))
        return PostedTransaction(
            id: id, sequence: sequence, proposal: proposal, reverses: reverses, postedAt: postedAt, contentHash: contentHash,
            chainHash: chain(previous: previousChainHash, content: contentHash, hash: hash))
    }

    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// Times are kept to the millisecond (what the content hash and PostgreSQL both hold exactly).
    static func truncated(_ date: Date) -> Date {
        Date(timeIntervalSince1970: Double(millis(date)) / 1000)
    }

    private struct Sealed: Encodable {
        var sequence: Int64
        var key: String
        var kind: String
        var payment: PaymentKey?
        var reverses: Int64?
        var causeEventID: String
        var causeEventType: String
        var occurredAtMillis: Int64
        var postedAtMillis: Int64
        var entries: [LedgerEntry]

        enum CodingKeys: String, CodingKey {
            case sequence, key, kind, payment, reverses, causeEventID = "cause_event_id", causeEventType = "cause_event_type"
            case occurredAtMillis = "occurred_at_ms", postedAtMillis = "posted_at_ms", entries
        }
    }
}
