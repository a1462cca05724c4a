import Contracts
import Foundation
import Hummingbird

// The JSON the finance admin API answers with (contracts/openapi/finance.yaml). Times are
// RFC 3339 UTC with milliseconds; money is integer minor units with its currency.

struct AccountList: Encodable, ResponseEncodable {
    struct Account: Encodable {
        var code: String
        var kind: String
        var createdAt: String
        enum CodingKeys: String, CodingKey { case code, kind, createdAt = "created_at" }
    }
    var accounts: [Account]
}

struct BalanceList: Encodable, ResponseEncodable {
    struct Line: Encodable {
        var account: String
        var currency: String
        var balanceMinor: Int64
        enum CodingKeys: String, CodingKey { case account, currency, balanceMinor = "balance_minor" }
        init(_ balance: AccountBalance) {
            account = balance.account
            currency = balance.currency.rawValue
            balanceMinor = balance.balanceMinor
        }
    }
    var asOf: String?
    var balances: [Line]
    enum CodingKeys: String, CodingKey { case asOf = "as_of", balances }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(asOf, forKey: .asOf)
        try container.encode(balances, forKey: .balances)
    }
}

struct Statement: Encodable, ResponseEncodable {
    struct Line: Encodable {
        var transactionID: Int64
        var sequence: Int64
        var postedAt: String
        var key: String
        var kind: String
        var amountMinor: Int64
        var runningBalanceMinor: Int64
        enum CodingKeys: String, CodingKey {
            case transactionID = "transaction_id", sequence, postedAt = "posted_at", key, kind, amountMinor = "amount_minor"
            case runningBalanceMinor = "running_balance_minor"
        }
    }
    var account: String
    var currency: String
    var openingBalanceMinor: Int64
    var entries: [Line]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case account, currency, openingBalanceMinor = "opening_balance_minor", entries, nextCursor = "next_cursor" }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(account, forKey: .account)
        try container.encode(currency, forKey: .currency)
        try container.encode(openingBalanceMinor, forKey: .openingBalanceMinor)
        try container.encode(entries, forKey: .entries)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

struct TransactionBody: Encodable, ResponseEncodable {
    var id: Int64
    var sequence: Int64
    var key: String
    var kind: String
    var payment: PaymentKey?
    var reverses: Int64?
    var causeEventID: String
    var causeEventType: String
    var occurredAt: String
    var postedAt: String
    var contentSHA256: String
    var chainSHA256: String
    var entries: [LedgerEntry]
    enum CodingKeys: String, CodingKey {
        case id, sequence, key, kind, payment, reverses, causeEventID = "cause_event_id", causeEventType = "cause_event_type", occurredAt = "occurred_at"
        case postedAt = "posted_at", contentSHA256 = "content_sha256", chainSHA256 = "chain_sha256", entries
    }

    init(_ posted: PostedTransaction) {
        id = posted.id
        sequence = posted.sequence
        key = posted.key
        kind = posted.proposal.kind.rawValue
        payment = posted.proposal.payment
        reverses = posted.reverses
        causeEventID = posted.proposal.causeEventID
        causeEventType = posted.proposal.causeEventType
        occurredAt = RFC3339.string(posted.proposal.occurredAt)
        postedAt = RFC3339.string(posted.postedAt)
        contentSHA256 = posted.contentHash
        chainSHA256 = posted.chainHash
        entries = posted.entries
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(key, forKey: .key)
        try container.encode(kind, forKey: .kind)
        try container.encode(payment, forKey: .payment)
        try container.encode(reverses, forKey: .reverses)
        try container.encode(causeEventID, forKey: .causeEventID)
        try container.encode(causeEventType, forKey: .causeEventType)
        try container.encode(occurredAt, forKey: .occurredAt)
        try container.encode(postedAt, forKey: .postedAt)
        try container.encode(contentSHA256, forKey: .contentSHA256)
        try container.encode(chainSHA256, forKey: .chainSHA256)
        try container.encode(entries, forKey: .entries)
    }
}

struct TransactionList: Encodable, ResponseEncodable {
    var transactions: [TransactionBody]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case transactions, nextCursor = "next_cursor" }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(transactions, forKey: .transactions)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

struct ResolveRequest: Decodable {
    var note: String?
}

struct ConflictBody: Encodable, ResponseEncodable {
    var row: ConflictRow
    init(_ row: ConflictRow) { self.row = row }
    enum CodingKeys: String, CodingKey {
        case id, key, code, field, recorded, offered, causeEventID = "cause_event_id", createdAt = "created_at", resolvedAt = "resolved_at"
        case resolvedBy = "resolved_by", resolutionNote = "resolution_note"
    }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(row.id, forKey: .id)
        try container.encode(row.conflict.key, forKey: .key)
        try container.encode(row.conflict.code.rawValue, forKey: .code)
        try container.encode(row.conflict.field, forKey: .field)
        try container.encode(row.conflict.recorded, forKey: .recorded)
        try container.encode(row.conflict.offered, forKey: .offered)
        try container.encode(row.conflict.causeEventID, forKey: .causeEventID)
        try container.encode(RFC3339.string(row.createdAt), forKey: .createdAt)
        try container.encode(row.resolvedAt.map(RFC3339.string), forKey: .resolvedAt)
        try container.encode(row.resolvedBy, forKey: .resolvedBy)
        try container.encode(row.resolutionNote, forKey: .resolutionNote)
    }
}

struct ConflictList: Encodable, ResponseEncodable {
    var conflicts: [ConflictBody]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case conflicts, nextCursor = "next_cursor" }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(conflicts, forKey: .conflicts)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

struct VerificationBody: Encodable, ResponseEncodable {
    struct CheckBody: Encodable {
        var name: String
        var ok: Bool
        var detail: String
        var item: String?
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(ok, forKey: .ok)
            try container.encode(detail, forKey: .detail)
            try container.encode(item, forKey: .item)
        }
        enum CodingKeys: String, CodingKey { case name, ok, detail, item }
    }
    var ok: Bool
    var checkedAt: String
    var transactions: Int
    var checks: [CheckBody]
    var firstFailure: CheckBody?
    enum CodingKeys: String, CodingKey { case ok, checkedAt = "checked_at", transactions, checks, firstFailure = "first_failure" }

    init(_ verification: LedgerVerification, checkedAt: Date) {
        func body(_ check: LedgerVerification.Check) -> CheckBody { CheckBody(name: check.name, ok: check.ok, detail: check.detail, item: check.item) }
        ok = verification.ok
        self.checkedAt = RFC3339.string(checkedAt)
        transactions = verification.transactionCount
        checks = verification.checks.map(body)
        firstFailure = verification.firstFailure.map(body)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ok, forKey: .ok)
        try container.encode(checkedAt, forKey: .checkedAt)
        try container.encode(transactions, forKey: .transactions)
        try container.encode(checks, forKey: .checks)
        try container.encode(firstFailure, forKey: .firstFailure)
    }
}

struct PaymentBody: Encodable, ResponseEncodable {
    struct TimelineBody: Encodable {
        var row: TimelineRow
        enum CodingKeys: String, CodingKey { case eventID = "event_id", eventType = "event_type", occurredAt = "occurred_at", transactionID = "transaction_id", note }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(row.eventID, forKey: .eventID)
            try container.encode(row.eventType, forKey: .eventType)
            try container.encode(RFC3339.string(row.occurredAt), forKey: .occurredAt)
            try container.encode(row.transactionID, forKey: .transactionID)
            try container.encode(row.note, forKey: .note)
        }
    }
    var record: PaymentRecord
    var updatedAt: Date
    var timeline: [TimelineRow]?

    enum CodingKeys: String, CodingKey {
        case provider, paymentID = "payment_id", status, amount, captured, refundedMinor = "refunded_minor", disputedMinor = "disputed_minor"
        case feeMinor = "fee_minor", customerRef = "customer_ref", orderRef = "order_ref", updatedAt = "updated_at", timeline
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record.key.provider, forKey: .provider)
        try container.encode(record.key.paymentID, forKey: .paymentID)
        try container.encode(record.status, forKey: .status)
        let amount = record.currency.flatMap { currency in record.intendedMinor.map { Money(amountMinor: $0, currency: currency) } }
        try container.encode(amount, forKey: .amount)
        let captured = record.isCaptured ? record.currency.map { Money(amountMinor: record.capturedMinor, currency: $0) } : nil
        try container.encode(captured, forKey: .captured)
        try container.encode(record.refundedMinor, forKey: .refundedMinor)
        try container.encode(record.disputedOpenMinor, forKey: .disputedMinor)
        try container.encode(record.feeMinor, forKey: .feeMinor)
        try container.encode(record.customerRef, forKey: .customerRef)
        try container.encode(record.orderRef, forKey: .orderRef)
        try container.encode(RFC3339.string(updatedAt), forKey: .updatedAt)
        if let timeline { try container.encode(timeline.map(TimelineBody.init), forKey: .timeline) }
    }
}

struct PaymentList: Encodable, ResponseEncodable {
    var payments: [PaymentBody]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case payments, nextCursor = "next_cursor" }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(payments, forKey: .payments)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

struct PayoutBody: Encodable {
    var payout: PayoutRecord
    enum CodingKeys: String, CodingKey {
        case provider, payoutID = "payout_id", status, amount, fees, arrivalDate = "arrival_date", occurredAt = "occurred_at", transactionID = "transaction_id"
    }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(payout.provider, forKey: .provider)
        try container.encode(payout.payoutID, forKey: .payoutID)
        try container.encode(payout.status, forKey: .status)
        try container.encode(payout.amount, forKey: .amount)
        try container.encode(payout.fees, forKey: .fees)
        try container.encode(payout.arrivalDate, forKey: .arrivalDate)
        try container.encode(RFC3339.string(payout.occurredAt), forKey: .occurredAt)
        try container.encode(payout.transactionID, forKey: .transactionID)
    }
}

struct PayoutList: Encodable, ResponseEncodable {
    var payouts: [PayoutBody]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case payouts, nextCursor = "next_cursor" }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(payouts, forKey: .payouts)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

struct PayoutReportBody: Encodable, ResponseEncodable {
    struct GroupBody: Encodable {
        var status: String
        var currency: String
        var count: Int
        var amountMinor: Int64
        enum CodingKeys: String, CodingKey { case status, currency, count, amountMinor = "amount_minor" }
    }
    var from: String
    var to: String
    var groups: [GroupBody]
    var recent: [PayoutBody]
}

struct RefundBody: Encodable, ResponseEncodable {
    var request: RefundRequest
    enum CodingKeys: String, CodingKey {
        case id, provider, paymentID = "payment_id", amount, reason, status, requestedBy = "requested_by", decidedBy = "decided_by"
        case providerRefundID = "provider_refund_id", failure, createdAt = "created_at", updatedAt = "updated_at"
    }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(request.id, forKey: .id)
        try container.encode(request.payment.provider, forKey: .provider)
        try container.encode(request.payment.paymentID, forKey: .paymentID)
        try container.encode(request.amount, forKey: .amount)
        try container.encode(request.reason, forKey: .reason)
        try container.encode(request.status, forKey: .status)
        try container.encode(request.requestedBy, forKey: .requestedBy)
        try container.encode(request.decidedBy, forKey: .decidedBy)
        try container.encode(request.providerRefundID, forKey: .providerRefundID)
        try container.encode(request.failure, forKey: .failure)
        try container.encode(RFC3339.string(request.createdAt), forKey: .createdAt)
        try container.encode(RFC3339.string(request.updatedAt), forKey: .updatedAt)
    }
}

struct RefundList: Encodable, ResponseEncodable {
    var refunds: [RefundBody]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case refunds, nextCursor = "next_cursor" }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(refunds, forKey: .refunds)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

struct ReplayBody: Encodable, ResponseEncodable {
    var submitted: Int
    var stillOffline: Int
    var failed: Int
    var refunds: [RefundBody]
    enum CodingKeys: String, CodingKey { case submitted, stillOffline = "still_offline", failed, refunds }
}
