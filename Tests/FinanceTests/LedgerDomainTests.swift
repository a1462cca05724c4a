import Contracts
import Foundation
import Storage
import Testing

@testable import Finance

/// The ledger's rules as plain functions: double entry, idempotency, the chain, the journal.
@Suite("Ledger rules")
struct LedgerRuleTests {
    static let cause = Postings.Cause(eventID: "evt_1", eventType: PaymentCaptured.eventType, occurredAt: Books.start)
    static let payment = PaymentKey(provider: .stripe, paymentID: "pi_1")

    @Test func aCaptureCreditsRevenueAndSplitsTheFee() throws {
        let capture = Postings.capture(Self.payment, amount: Books.usd(10_000), fee: Books.usd(320), cause: Self.cause)
        try capture.checkBalanced()
        #expect(capture.key == "stripe:pi_1:capture")
        #expect(LedgerMath.total(capture.entries, account: .clearing(.stripe)) == 9_680)
        #expect(LedgerMath.total(capture.entries, account: .providerFees) == 320)
        #expect(LedgerMath.total(capture.entries, account: .revenue) == -10_000)
    }

    @Test func unbalancedOrMixedTransactionsAreRefused() {
        var proposal = Postings.refund(Self.payment, refundID: "re_1", amount: Books.usd(500), cause: Self.cause)
        proposal.entries[0].amountMinor = 501
        #expect(throws: UnbalancedTransaction.notBalanced(key: "stripe:re_1:refund", currency: Books.usd, sum: 1)) { try proposal.checkBalanced() }
        proposal.entries = [LedgerEntry(.refunds, 500, Books.usd)]
        #expect(throws: UnbalancedTransaction.tooFewEntries(key: "stripe:re_1:refund", count: 1)) { try proposal.checkBalanced() }
        proposal.entries = [
            LedgerEntry(.refunds, 500, Books.usd), LedgerEntry(.clearing(.stripe), -500, Books.usd), LedgerEntry(.refunds, 400, Books.eur),
            LedgerEntry(.clearing(.stripe), -400, Books.eur),
        ]
        #expect(throws: UnbalancedTransaction.currenciesMixedWithoutExchange(key: "stripe:re_1:refund", currencies: [Books.eur, Books.usd])) {
            try proposal.checkBalanced()
        }
        proposal.entries = [
            LedgerEntry(.clearing(.stripe), 1_000, Books.usd), LedgerEntry(.exchange(Books.usd), -1_000, Books.usd),
            LedgerEntry(.exchange(Books.eur), 920, Books.eur), LedgerEntry(.revenue, -920, Books.eur),
        ]
        #expect(throws: Never.self) { try proposal.checkBalanced() }
    }

    @Test(arguments: [
        (Books.usd(9_000), nil as Money?, ConflictCode.existsWithDifferentAmount, "entries[income:revenue USD].amount_minor"),
        (Money(amountMinor: 10_000, currency: Books.eur), nil, .existsWithDifferentCurrency, "currency"),
        (Books.usd(10_000), Books.usd(300), .existsWithDifferentAccounts, "entries"),
    ])
    func theSameKeyWithOtherMoneyIsAConflictNamingTheField(amount: Money, fee: Money?, code: ConflictCode, field: String) {
        let recorded = Postings.capture(Self.payment, amount: Books.usd(10_000), fee: nil, cause: Self.cause)
        let again = Postings.capture(Self.payment, amount: Books.usd(10_000), fee: nil, cause: .init(eventID: "evt_2", eventType: "x", occurredAt: Books.start + 60))
        #expect(LedgerIdempotency.difference(recorded: recorded, offered: again) == nil, "another event id and time with the same money is a repeat")
        let offered = Postings.capture(Self.payment, amount: amount, fee: fee, cause: Self.cause)
        let conflict = LedgerIdempotency.difference(recorded: recorded, offered: offered)
        #expect(conflict?.code == code)
        #expect(conflict?.field == field)
    }

    @Test func theChainNamesTheFirstTransactionChangedBehindTheServicesBack() async throws {
        let books = InMemoryBooks()
        let handler = PaymentEventsHandler(logger: .init(label: "t"), now: { Books.start })
        for (index, fact) in [
            Books.captured("pi_1", 10_000, event: "e1"), Books.refunded("pi_1", refund: "re_1", 1_000, event: "e2"), Books.captured("pi_2", 500, event: "e3"),
        ].enumerated() {
            _ = try await handler.handle(try Books.arrival(fact, id: "evt_\(index)"), store: books)
        }
        #expect(books.verification.ok)
        var tampered = books.transactions
        tampered[1].proposal.entries[0].amountMinor = 2_000
        tampered[1].proposal.entries[1].amountMinor = -2_000
        let check = LedgerVerification(transactions: tampered, payments: books.payments, openConflicts: [], now: Books.start, hash: ContentHash.sha256Hex)
        #expect(check.firstFailure?.name == "payments_match_ledger" || check.firstFailure?.name == "hash_chain_intact")
        #expect(check.checks.first { $0.name == "hash_chain_intact" }?.item == "\(tampered[1].id)")
        var removed = books.transactions
        removed.remove(at: 1)
        let gap = LedgerVerification(transactions: removed, payments: [], openConflicts: [], now: Books.start, hash: ContentHash.sha256Hex)
        #expect(gap.checks.first { $0.name == "hash_chain_intact" }?.ok == false)
        let all = books.transactions
        let head = LedgerVerification.Head(sequence: all.last!.sequence, chainHash: all.last!.chainHash)
        let whole = LedgerVerification(transactions: all, payments: [], openConflicts: [], head: head, now: Books.start, hash: ContentHash.sha256Hex)
        #expect(whole.checks.first { $0.name == "hash_chain_intact" }?.ok == true)
        let newestRemoved = LedgerVerification(transactions: Array(all.dropLast()), payments: [], openConflicts: [], head: head, now: Books.start, hash: ContentHash.sha256Hex)
        #expect(newestRemoved.checks.first { $0.name == "hash_chain_intact" }?.ok == false, "the newest transaction removed: the head says more")
    }

    @Test func staleConflictsFailTheCheck() {
        let open = [LedgerVerification.OpenConflict(id: 7, key: "stripe:re_9:refund", createdAt: Books.start)]
        let fresh = LedgerVerification(transactions: [], payments: [], openConflicts: open, now: Books.start + 3600, hash: ContentHash.sha256Hex)
        #expect(fresh.ok)
        let stale = LedgerVerification(transactions: [], payments: [], openConflicts: open, now: Books.start + 25 * 3600, hash: ContentHash.sha256Hex)
        #expect(stale.firstFailure?.name == "no_stale_conflicts" && stale.firstFailure?.item == "7")
    }

    @Test(arguments: [
        (Int64(-12_345), "USD", "-123.45 USD"), (5, "USD", "0.05 USD"), (0, "USD", "0.00 USD"), (-12_345, "JPY", "-12345 JPY"), (1_234, "KWD", "1.234 KWD"),
        (7, "KWD", "0.007 KWD"),
    ])
    func journalAmountsUseTheCurrencysDecimals(minor: Int64, currency: String, text: String) {
        #expect(Journal.amount(minor, CurrencyCode(rawValue: currency)!) == text)
    }
}
