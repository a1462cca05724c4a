import Contracts
import Foundation

/// Integer rounding of a quotient to the nearest whole minor unit, ties to the even neighbour
/// (banker's rounding): 0.5 → 0, 1.5 → 2, 2.5 → 2. The only rounding invoices use.
enum HalfEven {
    /// `numerator / denominator` rounded half-even; `denominator` must be positive.
    static func divide(_ numerator: Int64, by denominator: Int64) -> Int64 {
        precondition(denominator > 0, "a rounding denominator is positive")
        let quotient = numerator / denominator
        let remainder = numerator % denominator
        let twice = remainder.magnitude * 2
        if twice < denominator.magnitude { return quotient }
        let away = numerator < 0 ? quotient - 1 : quotient + 1
        if twice > denominator.magnitude { return away }
        return quotient % 2 == 0 ? quotient : away
    }

    /// `a × b / denominator` rounded half-even, with the product in 128 bits so it cannot
    /// overflow; the result must fit in 64 bits (it does whenever `|b| ≤ denominator`).
    static func multiply(_ a: Int64, _ b: Int64, dividedBy denominator: Int64) -> Int64 {
        precondition(denominator > 0, "a rounding denominator is positive")
        let negative = (a < 0) != (b < 0)
        let product = a.magnitude.multipliedFullWidth(by: b.magnitude)
        let divisor = denominator.magnitude
        precondition(product.high < divisor, "the quotient fits in 64 bits")
        var (quotient, remainder) = divisor.dividingFullWidth(product)
        let (twice, carried) = remainder.multipliedReportingOverflow(by: 2)
        if carried || twice > divisor || (twice == divisor && quotient % 2 == 1) { quotient += 1 }
        let magnitude = Int64(quotient)
        return negative ? -magnitude : magnitude
    }
}

/// One line of an invoice as issued: what was sold and the tax on it, rounded on the line.
struct InvoiceLine: Hashable, Sendable, Codable {
    var sku: String
    var description: String
    var quantity: Int
    var unitPriceMinor: Int64
    /// `quantity × unit price`, before tax.
    var netMinor: Int64
    /// Tax rate in basis points (1 % = 100).
    var taxRateBps: Int
    /// `net × rate`, rounded half-even on this line.
    var taxMinor: Int64
    var totalMinor: Int64

    enum CodingKeys: String, CodingKey {
        case sku, description, quantity, unitPriceMinor = "unit_price_minor", netMinor = "net_minor", taxRateBps = "tax_rate_bps", taxMinor = "tax_minor"
        case totalMinor = "total_minor"
    }
}

/// The amounts an invoice carries from the moment it is issued; stored, never recomputed.
/// The lines always add up to them: `subtotal = Σ net`, `tax = Σ line tax`, `total = subtotal + tax`.
struct TaxSnapshot: Hashable, Sendable, Codable {
    var subtotalMinor: Int64
    /// The net of the lines whose rate is above zero.
    var taxableSubtotalMinor: Int64
    var taxMinor: Int64
    var totalMinor: Int64
    /// The effective rate derived from the stored amounts, `tax / taxable subtotal` in basis
    /// points rounded half-even (0 when nothing is taxable).
    var taxRateBasisBps: Int

    init(lines: [InvoiceLine]) {
        subtotalMinor = lines.reduce(0) { $0 + $1.netMinor }
        taxableSubtotalMinor = lines.filter { $0.taxRateBps > 0 }.reduce(0) { $0 + $1.netMinor }
        taxMinor = lines.reduce(0) { $0 + $1.taxMinor }
        totalMinor = subtotalMinor + taxMinor
        taxRateBasisBps = taxableSubtotalMinor > 0 ? Int(clamping: HalfEven.multiply(taxMinor, 10_000, dividedBy: taxableSubtotalMinor)) : 0
    }

    enum CodingKeys: String, CodingKey {
        case subtotalMinor = "subtotal_minor", taxableSubtotalMinor = "taxable_subtotal_minor", taxMinor = "tax_minor", totalMinor = "total_minor"
        case taxRateBasisBps = "tax_rate_basis_bps"
    }
}

/// Why a set of lines cannot become an invoice.
enum InvoiceLineError: Error, Equatable, CustomStringConvertible {
    case noLines
    case quantity(line: Int)
    case unitPrice(line: Int)
    case rate(line: Int)
    case tooLarge(line: Int)
    case mixedCurrencies
    case zeroTotal
    case tooManyLines(Int)

    var description: String {
        switch self {
        case .noLines: "an invoice needs at least one line"
        case .quantity(let line): "line \(line): quantity must be 1 to 1000000"
        case .unitPrice(let line): "line \(line): unit price must not be negative"
        case .rate(let line): "line \(line): tax rate must be 0 to 10000 basis points"
        case .tooLarge(let line): "line \(line): the amount does not fit in 64-bit minor units"
        case .mixedCurrencies: "every line of an invoice is in the invoice's currency"
        case .zeroTotal: "an invoice's total must be greater than zero"
        case .tooManyLines(let count): "an invoice has at most 1000 lines, not \(count)"
        }
    }
}

/// The tax rules of issue: from an order's lines (tax exclusive, per line half-even) or from a
/// captured amount under the org's tax settings (the price includes the tax).
enum InvoiceTax {
    /// Lines with tax computed from each line's own net and rate. The order's own line tax is
    /// not trusted: the invoice states what the rule gives.
    static func lines(from order: [OrderLine], currency: CurrencyCode) throws(InvoiceLineError) -> [InvoiceLine] {
        guard !order.isEmpty else { throw .noLines }
        guard order.count <= 1_000 else { throw .tooManyLines(order.count) }
        var lines: [InvoiceLine] = []
        for (index, line) in order.enumerated() {
            let number = index + 1
            guard line.unitPrice.currency == currency else { throw .mixedCurrencies }
            guard (1...1_000_000).contains(line.quantity) else { throw .quantity(line: number) }
            guard line.unitPrice.amountMinor >= 0 else { throw .unitPrice(line: number) }
            guard (0...10_000).contains(line.taxRateBps) else { throw .rate(line: number) }
            let (net, overflow) = line.unitPrice.amountMinor.multipliedReportingOverflow(by: Int64(line.quantity))
            guard !overflow, net <= Int64.max / 10_001 else { throw .tooLarge(line: number) }
            let tax = HalfEven.divide(net * Int64(line.taxRateBps), by: 10_000)
            lines.append(
                InvoiceLine(
                    sku: line.sku, description: line.description, quantity: line.quantity, unitPriceMinor: line.unitPrice.amountMinor, netMinor: net,
                    taxRateBps: line.taxRateBps, taxMinor: tax, totalMinor: net + tax))
        }
        // The sums must fit as well as each line.
        var total: Int64 = 0
        for line in lines {
            let (sum, overflow) = total.addingReportingOverflow(line.totalMinor)
            guard !overflow else { throw .tooLarge(line: lines.count) }
            total = sum
        }
        guard total > 0 else { throw .zeroTotal }
        return lines
    }

    /// One line for a captured amount that includes tax at `rateBps`: the net is
    /// `gross × 10000 / (10000 + rate)` rounded half-even, the tax what remains.
    static func inclusiveLine(description: String, grossMinor: Int64, rateBps: Int) throws(InvoiceLineError) -> InvoiceLine {
        guard grossMinor > 0 else { throw .zeroTotal }
        guard (0...10_000).contains(rateBps) else { throw .rate(line: 1) }
        guard grossMinor <= Int64.max / 10_000 else { throw .tooLarge(line: 1) }
        let net = HalfEven.divide(grossMinor * 10_000, by: 10_000 + Int64(rateBps))
        return InvoiceLine(
            sku: "payment", description: description, quantity: 1, unitPriceMinor: net, netMinor: net, taxRateBps: rateBps, taxMinor: grossMinor - net,
            totalMinor: grossMinor)
    }
}
