import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// Records provider invoices (`invoice.paid`, `invoice.payment_failed`) linked to their
/// subscription and payment. They keep the provider's number; Tally numbers only its own. A
/// fact older than the one recorded changes nothing (`ignored`).
struct ProviderInvoiceHandler: Sendable {
    let schema: ServiceSchema
    let logger: Logger
    let now: @Sendable () -> Date

    func paid(_ event: InboxEvent<InvoicePaid>, on connection: PostgresConnection) async throws -> InboxOutcome {
        let paid = event.data
        return try await record(
            ProviderInvoiceRecord(
                provider: paid.origin.provider, invoiceID: paid.invoiceID, number: paid.invoiceNumber, status: "paid", subscriptionRef: paid.subscriptionRef,
                customerRef: paid.customerRef, amount: paid.amountPaid, paymentRef: paid.paymentRef, attemptCount: nil, occurredAt: paid.origin.occurredAt),
            on: connection)
    }

    func failed(_ event: InboxEvent<InvoicePaymentFailed>, on connection: PostgresConnection) async throws -> InboxOutcome {
        let failed = event.data
        return try await record(
            ProviderInvoiceRecord(
                provider: failed.origin.provider, invoiceID: failed.invoiceID, number: failed.invoiceNumber, status: "payment_failed",
                subscriptionRef: failed.subscriptionRef, customerRef: failed.customerRef, amount: failed.amountDue, paymentRef: nil,
                attemptCount: failed.attemptCount, occurredAt: failed.origin.occurredAt),
            on: connection)
    }

    private func record(_ invoice: ProviderInvoiceRecord, on connection: PostgresConnection) async throws -> InboxOutcome {
        try await InvoiceStore(schema: schema, connection: connection, logger: logger).record(invoice, at: now()) ? .applied : .ignored
    }
}
