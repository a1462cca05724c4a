import Contracts
import Foundation
import Testing

@testable import Finance

/// The invoice rules as plain functions: half-even rounding, the tax snapshot, numbering, the
/// status, credit notes and the reconcile decision.
@Suite("Invoice rules")
struct InvoiceDomainTests {
    static let usd = CurrencyCode(rawValue: "USD")!

    @Test(arguments: [
        (Int64(5), Int64(10), Int64(0)), (15, 10, 2), (25, 10, 2), (35, 10, 4), (14, 10, 1), (16, 10, 2), (-5, 10, 0), (-15, 10, -2), (-25, 10, -2),
        (-16, 10, -2), (1, 3, 0), (2, 3, 1), (0, 7, 0), (1_999_950_000, 10_000, 199_995),
    ])
    func halfEvenRoundsTiesToTheEvenNeighbour(numerator: Int64, denominator: Int64, expected: Int64) {
        #expect(HalfEven.divide(numerator, by: denominator) == expected)
    }

    @Test func halfEvenStaysWithinHalfAUnitOfTheExactQuotient() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let numerator = Int64.random(in: -10_000_000_000...10_000_000_000, using: &generator)
            let denominator = Int64.random(in: 1...100_000, using: &generator)
            let rounded = HalfEven.divide(numerator, by: denominator)
            let error = (rounded * denominator - numerator).magnitude * 2
            #expect(error <= denominator.magnitude, "\(numerator)/\(denominator) → \(rounded)")
        }
    }

    @Test func theWideProductRoundsLikeTheNarrowOneAndNeverOverflows() {
        for _ in 0..<5_000 {
            let a = Int64.random(in: -3_000_000_000...3_000_000_000)
            let b = Int64.random(in: 0...3_000_000_000)
            let d = Int64.random(in: 1...3_000_000_000)
            #expect(HalfEven.multiply(a, b, dividedBy: d) == HalfEven.divide(a * b, by: d), "\(a) × \(b) / \(d)")
        }
        // 9e18 × 5e17 overflows 64 bits; the quotient does not.
        #expect(HalfEven.multiply(9_000_000_000_000_000_000, 500_000_000_000_000_000, dividedBy: 1_000_000_000_000_000_000) == 4_500_000_000_000_000_000)
        #expect(HalfEven.multiply(5, 1, dividedBy: 2) == 2 && HalfEven.multiply(7, 1, dividedBy: 2) == 4 && HalfEven.multiply(-7, 1, dividedBy: 2) == -4)
    }

    static func line(_ sku: String, quantity: Int, unit: Int64, rate: Int) -> OrderLine {
        let money = Money(amountMinor: unit, currency: usd)
        return OrderLine(
            sku: sku, description: "\(sku) item", quantity: quantity, unitPrice: money, taxRateBps: rate, tax: Money(amountMinor: 0, currency: usd),
            total: Money(amountMinor: 0, currency: usd))
    }

    @Test func orderLinesAreTaxedPerLineAndAddUpToTheSnapshot() throws {
        // 3 × 3.33 at 8.25 % = 9.99 → 0.824175 → 0.82; 1 × 0.50 at 5 % = 0.025 → 0.02 (tie to even);
        // 2 × 20.00 untaxed.
        let lines = try InvoiceTax.lines(
            from: [Self.line("a", quantity: 3, unit: 333, rate: 825), Self.line("b", quantity: 1, unit: 50, rate: 500), Self.line("c", quantity: 2, unit: 2_000, rate: 0)],
            currency: Self.usd)
        #expect(lines.map(\.taxMinor) == [82, 2, 0])
        #expect(lines.map(\.netMinor) == [999, 50, 4_000])
        let snapshot = TaxSnapshot(lines: lines)
        #expect(snapshot.subtotalMinor == 5_049)
        #expect(snapshot.taxableSubtotalMinor == 1_049)
        #expect(snapshot.taxMinor == 84)
        #expect(snapshot.totalMinor == 5_133)
        #expect(snapshot.taxRateBasisBps == 801, "84 / 1049 = 8.0076 %")
        #expect(lines.reduce(0) { $0 + $1.totalMinor } == snapshot.totalMinor)
    }

    @Test func randomLinesAlwaysAddUpToTheirTotals() throws {
        for _ in 0..<500 {
            let count = Int.random(in: 1...8)
            let order = (0..<count).map { index in
                Self.line("s\(index)", quantity: Int.random(in: 1...50), unit: Int64.random(in: 0...500_000), rate: [0, 500, 825, 1_000, 2_100, 2_300].randomElement()!)
            }
            guard let lines = try? InvoiceTax.lines(from: order, currency: Self.usd) else { continue }
            let snapshot = TaxSnapshot(lines: lines)
            #expect(snapshot.totalMinor == snapshot.subtotalMinor + snapshot.taxMinor)
            #expect(lines.reduce(0) { $0 + $1.netMinor } == snapshot.subtotalMinor)
            #expect(lines.reduce(0) { $0 + $1.taxMinor } == snapshot.taxMinor)
            #expect(lines.allSatisfy { $0.totalMinor == $0.netMinor + $0.taxMinor })
            #expect(snapshot.taxableSubtotalMinor <= snapshot.subtotalMinor)
        }
    }

    @Test func badLinesAreRefusedNamingTheLine() {
        #expect(throws: InvoiceLineError.noLines) { try InvoiceTax.lines(from: [], currency: Self.usd) }
        #expect(throws: InvoiceLineError.quantity(line: 2)) {
            try InvoiceTax.lines(from: [Self.line("a", quantity: 1, unit: 100, rate: 0), Self.line("b", quantity: 0, unit: 100, rate: 0)], currency: Self.usd)
        }
        #expect(throws: InvoiceLineError.rate(line: 1)) { try InvoiceTax.lines(from: [Self.line("a", quantity: 1, unit: 100, rate: 10_001)], currency: Self.usd) }
        #expect(throws: InvoiceLineError.tooLarge(line: 1)) {
            try InvoiceTax.lines(from: [Self.line("a", quantity: 1_000_000, unit: Int64.max / 1_000, rate: 0)], currency: Self.usd)
        }
        #expect(throws: InvoiceLineError.zeroTotal) { try InvoiceTax.lines(from: [Self.line("a", quantity: 1, unit: 0, rate: 0)], currency: Self.usd) }
    }

    @Test func aCapturedAmountIncludesTaxAtTheRate() throws {
        let line = try InvoiceTax.inclusiveLine(description: "Payment pi_1", grossMinor: 11_000, rateBps: 1_000)
        #expect(line.netMinor == 10_000 && line.taxMinor == 1_000 && line.totalMinor == 11_000)
        let odd = try InvoiceTax.inclusiveLine(description: "Payment pi_2", grossMinor: 999, rateBps: 2_100)
        #expect(odd.netMinor + odd.taxMinor == 999)
        #expect(odd.netMinor == 826, "999 / 1.21 = 825.62 → 826")
        let untaxed = try InvoiceTax.inclusiveLine(description: "Payment pi_3", grossMinor: 500, rateBps: 0)
        #expect(untaxed.taxMinor == 0 && untaxed.netMinor == 500)
    }

    @Test func numbersArePerUTCDayWithFourDigitsAtLeast() {
        let late = Date(timeIntervalSince1970: 1_796_169_599)  // 2026-12-01T23:59:59Z
        #expect(InvoiceNumbering.day(late) == "20261201")
        #expect(InvoiceNumbering.day(late.addingTimeInterval(1)) == "20261202")
        #expect(InvoiceNumbering.number(day: "20261201", sequence: 7) == "INV-20261201-0007")
        #expect(InvoiceNumbering.number(day: "20261201", sequence: 12_345) == "INV-20261201-12345")
        #expect(InvoiceNumbering.creditNote(invoiceNumber: "INV-20261201-0007", ordinal: 1) == "INV-20261201-0007-CN")
        #expect(InvoiceNumbering.creditNote(invoiceNumber: "INV-20261201-0007", ordinal: 3) == "INV-20261201-0007-CN3")
    }

    @Test func theStatusFollowsPaymentsAndTheDueDate() {
        let due = Date(timeIntervalSince1970: 1_000_000)
        let before = due.addingTimeInterval(-1)
        let after = due.addingTimeInterval(1)
        #expect(InvoiceStatus.derived(totalMinor: 100, paidMinor: 0, dueAt: due, now: before, voided: false) == .issued)
        #expect(InvoiceStatus.derived(totalMinor: 100, paidMinor: 40, dueAt: due, now: before, voided: false) == .partial)
        #expect(InvoiceStatus.derived(totalMinor: 100, paidMinor: 100, dueAt: due, now: after, voided: false) == .paid)
        #expect(InvoiceStatus.derived(totalMinor: 100, paidMinor: 40, dueAt: due, now: after, voided: false) == .overdue)
        #expect(InvoiceStatus.derived(totalMinor: 100, paidMinor: 0, dueAt: due, now: after, voided: false) == .overdue)
        #expect(InvoiceStatus.derived(totalMinor: 100, paidMinor: 0, dueAt: due, now: after, voided: true) == .void)
    }

    static func invoice(total: Int64 = 11_000, tax: Int64 = 1_000, paid: Int64 = 11_000, credited: Int64 = 0, status: InvoiceStatus = .paid) -> Invoice {
        var snapshot = TaxSnapshot(lines: [])
        snapshot.subtotalMinor = total - tax
        snapshot.taxableSubtotalMinor = total - tax
        snapshot.taxMinor = tax
        snapshot.totalMinor = total
        return Invoice(
            id: "inv_1", number: "INV-20261201-0001", source: .order(orderID: "ord_1", paymentRef: nil), customerRef: "cus_1", customerProvider: .internal,
            currency: usd, lines: [], snapshot: snapshot, issuedAt: Date(timeIntervalSince1970: 0), dueAt: Date(timeIntervalSince1970: 86_400), status: status,
            paidMinor: paid, creditedMinor: credited, voidReason: nil)
    }

    static func refund(
        _ id: Int64, _ minor: Int64, credited: Bool = false, payment: String = "stripe:pi_1", captured: Int64 = 1_000_000, applied: Int64 = 1_000_000
    ) -> InvoiceRefund {
        InvoiceRefund(
            transactionID: id, sequence: id, key: "stripe:re_\(id):refund", amountMinor: minor, alreadyCredited: credited, payment: payment,
            capturedMinor: captured, appliedMinor: applied)
    }

    /// A payment of 15.00 on a 10.00 invoice: its first 5.00 of refunds give back the
    /// overpayment and credit nothing; the rest credits at most the 10.00 it applied.
    @Test func refundsOfAnOverpaymentCreditOnlyWhatThePaymentApplied() throws {
        let invoice = Self.invoice()
        let overpaid = [Self.refund(1, 400, captured: 1_500, applied: 1_000)]
        #expect(throws: CreditNoteRefusal.refundOfOverpayment(key: "stripe:re_1:refund")) {
            try CreditNoteRules.decide(invoice: invoice, existing: [], refunds: overpaid, refundKey: nil, id: "cn", reason: nil, by: "f", now: Date())
        }
        let refunds = [
            Self.refund(1, 400, credited: true, captured: 1_500, applied: 1_000), Self.refund(2, 300, captured: 1_500, applied: 1_000),
            Self.refund(3, 800, captured: 1_500, applied: 1_000),
        ]
        #expect(refunds.map { $0.creditableMinor(among: refunds) } == [0, 200, 800])
        let second = try CreditNoteRules.decide(invoice: invoice, existing: [], refunds: refunds, refundKey: "stripe:re_2:refund", id: "cn", reason: nil, by: "f", now: Date())
        #expect(second.totalMinor == 200 && second.netMinor + second.taxMinor == 200)
        // Another payment's refunds are counted on their own.
        let mixed = [Self.refund(1, 500, payment: "stripe:pi_2", captured: 500, applied: 500), Self.refund(2, 300, captured: 1_500, applied: 1_000)]
        #expect(mixed.map { $0.creditableMinor(among: mixed) } == [500, 0])
    }

    @Test func aCreditNoteTakesTheLatestRefundSplitInTheInvoicesProportion() throws {
        let invoice = Self.invoice()
        let note = try CreditNoteRules.decide(
            invoice: invoice, existing: [], refunds: [Self.refund(4, 1_000), Self.refund(9, 3_300)], refundKey: nil, id: "cn_1", reason: nil, by: "fay", now: Date())
        #expect(note.refundTransactionID == 9)
        #expect(note.number == "INV-20261201-0001-CN")
        #expect(note.taxMinor == 300 && note.netMinor == 3_000, "3300 × 1000 / 11000")
        var credited = invoice
        credited.creditedMinor = note.totalMinor
        let rest = try CreditNoteRules.decide(
            invoice: credited, existing: [note], refunds: [Self.refund(9, 3_300, credited: true), Self.refund(12, 7_700)], refundKey: nil, id: "cn_2", reason: nil,
            by: "fay", now: Date())
        #expect(rest.number == "INV-20261201-0001-CN2")
        #expect(rest.taxMinor + note.taxMinor == 1_000 && rest.netMinor + note.netMinor == 10_000, "the last credit takes exactly what is left")
    }

    @Test func manySmallCreditNotesRoundCumulativelyAndTheLastTakesWhatIsLeft() throws {
        // 100 net + 20 tax; eleven refunds of 9 (each alone 1.5 of tax), then the rest, 21.
        var invoice = Self.invoice(total: 120, tax: 20, paid: 120)
        var notes: [CreditNote] = []
        let refunds = (1...11).map { Self.refund(Int64($0), 9) } + [Self.refund(12, 21)]
        for refund in refunds {
            let note = try CreditNoteRules.decide(
                invoice: invoice, existing: notes, refunds: [refund], refundKey: nil, id: "cn_\(refund.transactionID)", reason: nil, by: "f", now: Date())
            #expect(note.taxMinor >= 0 && note.netMinor >= 0, "\(note)")
            notes.append(note)
            invoice.creditedMinor += note.totalMinor
        }
        #expect(notes.reduce(0) { $0 + $1.taxMinor } == 20 && notes.reduce(0) { $0 + $1.netMinor } == 100)
        let halfway = notes.prefix(6).reduce(0) { $0 + $1.taxMinor }
        #expect(halfway == HalfEven.divide(54 * 20, by: 120), "after 54 credited, the tax credited is 54's share: \(halfway)")
    }

    /// With at most 1000 lines of at most `Int64.max / 10001` each, no sum can overflow.
    @Test func ordersTooLargeToSumAreRefusedNotTrapped() throws {
        let largest = Self.line("x", quantity: 1, unit: Int64.max / 10_002, rate: 10_000)
        let lines = try InvoiceTax.lines(from: Array(repeating: largest, count: 1_000), currency: Self.usd)
        #expect(TaxSnapshot(lines: lines).totalMinor == lines.reduce(0) { $0 + $1.totalMinor })
        #expect(throws: InvoiceLineError.tooManyLines(1_001)) {
            try InvoiceTax.lines(from: Array(repeating: Self.line("y", quantity: 1, unit: 1, rate: 0), count: 1_001), currency: Self.usd)
        }
    }

    @Test func creditNotesNeverExceedTheInvoiceNorCreditARefundTwice() {
        let invoice = Self.invoice(credited: 10_000)
        #expect(throws: CreditNoteRefusal.exceedsInvoice(amountMinor: 3_000, creditableMinor: 1_000)) {
            try CreditNoteRules.decide(invoice: invoice, existing: [], refunds: [Self.refund(1, 3_000)], refundKey: nil, id: "cn", reason: nil, by: "f", now: Date())
        }
        #expect(throws: CreditNoteRefusal.noRefund) {
            try CreditNoteRules.decide(invoice: invoice, existing: [], refunds: [Self.refund(1, 500, credited: true)], refundKey: nil, id: "cn", reason: nil, by: "f", now: Date())
        }
        #expect(throws: CreditNoteRefusal.refundAlreadyCredited(key: "stripe:re_1:refund")) {
            try CreditNoteRules.decide(
                invoice: invoice, existing: [], refunds: [Self.refund(1, 500, credited: true)], refundKey: "stripe:re_1:refund", id: "cn", reason: nil, by: "f", now: Date())
        }
        #expect(throws: CreditNoteRefusal.invoiceVoid) {
            try CreditNoteRules.decide(
                invoice: Self.invoice(paid: 0, status: .void), existing: [], refunds: [Self.refund(1, 5)], refundKey: nil, id: "cn", reason: nil, by: "f", now: Date())
        }
    }

    @Test func reconcileSetsWhatTheLedgerSaysAndARepeatChangesNothing() {
        let tampered = Self.invoice(paid: 11_000, status: .paid)
        let repair = InvoiceReconciliation.decide(invoice: tampered, storedPaymentCount: 1, settledMinor: [], now: Date(timeIntervalSince1970: 10))
        #expect(repair.changed)
        #expect(repair.after == .init(status: .issued, paidMinor: 0, outstandingMinor: 11_000, paymentCount: 0))
        var repaired = tampered
        repaired.status = repair.after.status
        repaired.paidMinor = repair.after.paidMinor
        let again = InvoiceReconciliation.decide(invoice: repaired, storedPaymentCount: 0, settledMinor: [], now: Date(timeIntervalSince1970: 10))
        #expect(!again.changed)
        let partial = InvoiceReconciliation.decide(
            invoice: Self.invoice(paid: 0, status: .issued), storedPaymentCount: 0, settledMinor: [4_000], now: Date(timeIntervalSince1970: 10))
        #expect(partial.after.status == .partial && partial.after.outstandingMinor == 7_000)
    }

    @Test func theDocumentEscapesWhatComesFromOutside() {
        var invoice = Self.invoice()
        invoice.customerRef = "<script>alert(1)</script>"
        invoice.lines = [
            InvoiceLine(sku: "x", description: "Tom & \"Jerry\"", quantity: 1, unitPriceMinor: 10_000, netMinor: 10_000, taxRateBps: 1_000, taxMinor: 1_000, totalMinor: 11_000)
        ]
        let page = InvoiceDocument.html(invoice, payments: [], creditNotes: [])
        #expect(!page.contains("<script>"))
        #expect(page.contains("&lt;script&gt;") && page.contains("Tom &amp; &quot;Jerry&quot;"))
        #expect(page.contains("USD 110.00") && page.contains("INV-20261201-0001") && page.contains("10.00%"))
    }
}
