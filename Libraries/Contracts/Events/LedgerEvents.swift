import Foundation

/// One entry of a posted ledger transaction: debits positive, credits negative, integer minor units.
public struct LedgerPostingEntry: Codable, Sendable, Equatable {
    /// The account code, e.g. `provider:stripe:clearing`, `income:revenue`.
    public var account: String
    public var currency: CurrencyCode
    public var amountMinor: Int64

    public init(account: String, currency: CurrencyCode, amountMinor: Int64) {
        self.account = account
        self.currency = currency
        self.amountMinor = amountMinor
    }

    enum CodingKeys: String, CodingKey {
        case account, currency, amountMinor = "amount_minor"
    }
}

/// The provider payment a ledger transaction belongs to.
public struct LedgerPaymentReference: Codable, Sendable, Equatable {
    public var provider: WebhookProvider
    public var paymentID: String

    public init(provider: WebhookProvider, paymentID: String) {
        self.provider = provider
        self.paymentID = paymentID
    }

    enum CodingKeys: String, CodingKey {
        case provider, paymentID = "payment_id"
    }
}

/// A transaction finance posted to an org's double-entry ledger. Published once per
/// transaction, in the same database transaction that posted it, with an id derived from the
/// org and the transaction key (a reprocessed event never publishes a second copy).
///
/// Guarantees: the entries balance per currency; `sequence` counts 1, 2, 3… per org without
/// gaps; every balance of the org can be rebuilt from this topic alone by summing
/// `entries[].amount_minor` per account and currency; `chain_sha256` links to the previous
/// sequence's, so a consumer can check it saw the whole ledger. Keyed by org: one org's
/// postings stay in order.
public struct LedgerTransactionPosted: EventPayload {
    public static let eventType = "tally.finance.ledger.transaction.posted.v1"
    public static let topic = TallyTopic.ledgerPostings

    /// The org whose ledger this is (the tenant); the Kafka key.
    public var ledger: String
    public var transactionID: Int64
    public var sequence: Int64
    /// The idempotency key, e.g. `stripe:pi_123:capture`.
    public var key: String
    /// `capture`, `refund`, `dispute_opened`, `dispute_won`, `dispute_lost` or `payout`.
    public var kind: String
    public var payment: LedgerPaymentReference?
    /// The transaction this one reverses.
    public var reverses: Int64?
    /// The canonical event that caused the posting.
    public var causeEventID: String
    public var causeEventType: String
    /// When the fact happened at the provider.
    public var occurredAt: Date
    /// When the ledger recorded it: what balances `as_of` a time count.
    public var postedAt: Date
    public var entries: [LedgerPostingEntry]
    public var contentSHA256: String
    public var chainSHA256: String

    public init(
        ledger: String, transactionID: Int64, sequence: Int64, key: String, kind: String, payment: LedgerPaymentReference?, reverses: Int64?,
        causeEventID: String, causeEventType: String, occurredAt: Date, postedAt: Date, entries: [LedgerPostingEntry], contentSHA256: String, chainSHA256: String
    ) {
        self.ledger = ledger
        self.transactionID = transactionID
        self.sequence = sequence
        self.key = key
        self.kind = kind
        self.payment = payment
        self.reverses = reverses
        self.causeEventID = causeEventID
        self.causeEventType = causeEventType
        self.occurredAt = occurredAt
        self.postedAt = postedAt
        self.entries = entries
        self.contentSHA256 = contentSHA256
        self.chainSHA256 = chainSHA256
    }

    public var partitionKey: String { ledger }

    enum CodingKeys: String, CodingKey {
        case ledger, transactionID = "transaction_id", sequence, key, kind, payment, reverses, causeEventID = "cause_event_id"
        case causeEventType = "cause_event_type", occurredAt = "occurred_at", postedAt = "posted_at", entries
        case contentSHA256 = "content_sha256", chainSHA256 = "chain_sha256"
    }
}
