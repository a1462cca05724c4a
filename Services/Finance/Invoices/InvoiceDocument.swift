import Contracts
import Foundation

/// The invoice as a customer sees it: one self-contained, printable HTML page (no scripts, no
/// outside resources) with the number, dates, lines, the tax snapshot, totals, payments and
/// credit notes. Every value from outside is escaped.
enum InvoiceDocument {
    static func html(_ invoice: Invoice, payments: [InvoicePayment], creditNotes: [CreditNote]) -> String {
        func money(_ minor: Int64) -> String { escape(MoneyText.display(Money(amountMinor: minor, currency: invoice.currency))) }
        func day(_ date: Date) -> String { String(RFC3339.string(date).prefix(10)) }
        let lines = invoice.lines.map { line in
            """
                  <tr><td>\(escape(line.description))<div class="sku">\(escape(line.sku))</div></td><td class="n">\(line.quantity)</td>\
            <td class="n">\(money(line.unitPriceMinor))</td><td class="n">\(money(line.netMinor))</td><td class="n">\(rate(line.taxRateBps))</td>\
            <td class="n">\(money(line.taxMinor))</td><td class="n">\(money(line.totalMinor))</td></tr>
            """
        }.joined(separator: "\n")
        let paid = payments.map { payment in
            "      <tr><td>\(escape(payment.provider)) \(escape(payment.reference))</td><td>\(day(payment.settledAt))</td><td class=\"n\">\(money(payment.amountMinor))</td></tr>"
        }.joined(separator: "\n")
        let credits = creditNotes.map { note in
            "      <tr><td>\(escape(note.number))</td><td>\(day(note.createdAt))</td><td class=\"n\">\(money(note.totalMinor))</td></tr>"
        }.joined(separator: "\n")
        let snapshot = invoice.snapshot
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>Invoice \(escape(invoice.number))</title>
            <style>
              body { font-family: "DejaVu Sans", Arial, sans-serif; color: #111; margin: 2.5em; font-size: 11pt; }
              h1 { font-size: 20pt; margin: 0 0 .2em; }
              table { border-collapse: collapse; width: 100%; margin: 1em 0; }
              th, td { border-bottom: 1px solid #ccc; padding: .35em .5em; text-align: left; vertical-align: top; }
              td.n, th.n { text-align: right; white-space: nowrap; }
              .sku { color: #666; font-size: 9pt; }
              .status { display: inline-block; padding: .1em .6em; border: 1px solid #333; text-transform: uppercase; font-size: 9pt; }
              .totals td { border: none; }
              @media print { body { margin: 0; } }
            </style>
            </head>
            <body>
            <h1>Invoice \(escape(invoice.number))</h1>
            <p><span class="status">\(invoice.status.rawValue)</span></p>
            <p>Issued \(day(invoice.issuedAt)) &middot; Due \(day(invoice.dueAt))\(invoice.customerRef.map { " &middot; Customer \(escape($0))" } ?? "")</p>
            <table>
              <thead><tr><th>Item</th><th class="n">Qty</th><th class="n">Unit price</th><th class="n">Net</th><th class="n">Tax rate</th><th class="n">Tax</th><th class="n">Total</th></tr></thead>
              <tbody>
            \(lines)
              </tbody>
            </table>
            <table class="totals">
              <tr><td>Subtotal</td><td class="n">\(money(snapshot.subtotalMinor))</td></tr>
              <tr><td>Taxable subtotal</td><td class="n">\(money(snapshot.taxableSubtotalMinor))</td></tr>
              <tr><td>Tax (effective rate \(rate(snapshot.taxRateBasisBps)))</td><td class="n">\(money(snapshot.taxMinor))</td></tr>
              <tr><td><strong>Total</strong></td><td class="n"><strong>\(money(snapshot.totalMinor))</strong></td></tr>
              <tr><td>Paid</td><td class="n">\(money(invoice.paidMinor))</td></tr>
              <tr><td>Credited</td><td class="n">\(money(invoice.creditedMinor))</td></tr>
              <tr><td><strong>Outstanding</strong></td><td class="n"><strong>\(money(invoice.outstandingMinor))</strong></td></tr>
            </table>
            <h2>Payments</h2>
            <table>
              <thead><tr><th>Payment</th><th>Date</th><th class="n">Amount</th></tr></thead>
              <tbody>
            \(paid.isEmpty ? "      <tr><td colspan=\"3\">No payments yet</td></tr>" : paid)
              </tbody>
            </table>
            \(credits.isEmpty ? "" : "<h2>Credit notes</h2>\n<table>\n  <thead><tr><th>Credit note</th><th>Date</th><th class=\"n\">Amount</th></tr></thead>\n  <tbody>\n\(credits)\n  </tbody>\n</table>")
            <p class="sku">Tax is rounded on each line, half to even; the lines add up to the totals.</p>
            </body>
            </html>

            """
    }

    /// Basis points as a percentage with two decimals: 1000 → `10.00%`.
    static func rate(_ bps: Int) -> String {
        let fraction = bps % 100
        return "\(bps / 100).\(fraction < 10 ? "0" : "")\(fraction)%"
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
