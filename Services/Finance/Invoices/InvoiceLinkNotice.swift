import Contracts
import Foundation
import Storage

/// The notification request that sends a customer an invoice's signed link (template
/// `invoice.link`: number, amount due, link, expiry). Its dedupe key is the invoice and the
/// link's expiry, so asking twice for the same link sends one message; its event id derives
/// from the org and the key, so the outbox never publishes a second copy.
enum InvoiceLinkNotice {
    struct Message {
        var dedupeKey: String
        var outbox: OutboxMessage
    }

    static func message(
        invoice: Invoice, customerRef: String, url: String, expires: Date, locale: String?, tenant: TenantID, correlationID: String?, now: Date
    ) throws -> Message {
        let seconds = Int64(expires.timeIntervalSince1970.rounded(.down))
        let dedupeKey = "invoice-link:\(invoice.id):\(seconds)"
        let due = invoice.outstandingMinor > 0 ? invoice.outstandingMinor : invoice.snapshot.totalMinor
        let request = NotificationRequested(
            dedupeKey: dedupeKey, templateKey: "invoice.link", channels: [.email],
            recipient: NotificationRecipient(customer: CustomerReference(provider: invoice.customerProvider, customerID: customerRef)), locale: locale,
            variables: [
                "invoice_number": invoice.number, "amount": MoneyText.display(Money(amountMinor: due, currency: invoice.currency)),
                "expires_at": String(RFC3339.string(expires).prefix(10)), "invoice_url": url,
            ], notBefore: nil, causeType: "finance.invoice.link")
        return Message(dedupeKey: dedupeKey, outbox: try NotificationOutbox.message(request, tenant: tenant, correlationID: correlationID, now: now))
    }
}

/// Finance's notification requests as outbox messages: the event id derives from the org and the
/// request's dedupe key, so asking again never publishes a second copy.
enum NotificationOutbox {
    static func message(_ request: NotificationRequested, tenant: TenantID, correlationID: String?, now: Date) throws -> OutboxMessage {
        let id = "notify-" + ContentHash.sha256Hex(Array("\(tenant.rawValue)\n\(request.dedupeKey)".utf8)).prefix(32)
        return try OutboxMessage(
            EventEnvelope(
                id: String(id), source: "/tally/finance", time: now, tenant: tenant.rawValue, correlationID: correlationID ?? String(id), causationID: nil,
                data: request))
    }
}
