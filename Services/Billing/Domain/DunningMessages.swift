import Contracts
import Foundation

/// The notification request of a dunning step: which template, for whom, with which values.
/// It carries the invoice's number, amount and a link to pay — never the provider's payload.
enum DunningMessages {
    /// The settings a message needs from the org's deployment.
    struct Links: Sendable, Equatable {
        /// A URL with `{invoice_id}` where the invoice's id goes.
        var payURLTemplate: String

        func payURL(invoiceID: String) -> String {
            let escaped = invoiceID.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? invoiceID
            return payURLTemplate.replacingOccurrences(of: "{invoice_id}", with: escaped)
        }
    }

    /// The request for `action` on `invoice`, or nil when the invoice names no customer to
    /// write to. The `due_date` is the day the next consequence starts: the block for the notice
    /// and the reminder, the day of failure for the block, a week later for the final notice.
    static func request(
        _ action: DunningAction, invoice: UnpaidInvoice, customerRef: String?, policy: DunningPolicy, links: Links
    ) -> NotificationRequested? {
        guard let customerRef, !customerRef.isEmpty else { return nil }
        let due: Date
        switch action {
        case .notice, .reminder: due = invoice.failedAt.addingTimeInterval(Double(policy.blockDay ?? 7) * 86_400)
        case .block: due = invoice.failedAt
        case .finalNotice:
            let day = policy.steps.first { $0.action == .finalNotice }?.day ?? 14
            due = invoice.failedAt.addingTimeInterval(Double(day + 7) * 86_400)
        }
        return NotificationRequested(
            dedupeKey: DunningRules.dedupeKey(invoiceID: invoice.invoiceID, action: action), templateKey: action.templateKey, channels: [.email, .whatsapp],
            recipient: NotificationRecipient(customer: CustomerReference(provider: invoice.provider, customerID: customerRef)), locale: nil,
            variables: [
                "amount": MoneyText.display(invoice.amount), "invoice_number": invoice.number ?? invoice.invoiceID,
                "due_date": String(RFC3339.string(due).prefix(10)), "pay_url": links.payURL(invoiceID: invoice.invoiceID),
            ],
            notBefore: nil, causeType: action == .notice ? InvoicePaymentFailed.eventType : "billing.dunning.\(action.rawValue)")
    }
}
