import Contracts
import Foundation

/// The repository's `contracts/` folder, found from this file's location.
let contractsFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("contracts")

func fixtureBytes(_ eventType: String) throws -> [UInt8] {
    Array(try Data(contentsOf: contractsFolder.appendingPathComponent("fixtures/\(eventType).json")))
}

func schema(_ eventType: String) throws -> [String: Any] {
    let data = try Data(contentsOf: contractsFolder.appendingPathComponent("schemas/\(eventType).json"))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
}

/// One event type's contract: its golden value and how to decode its fixture.
struct Contract: Sendable, CustomStringConvertible {
    let eventType: String
    let encodeGolden: @Sendable () throws -> [UInt8]
    let decode: @Sendable ([UInt8]) throws -> Void
    var description: String { eventType }

    static func of<P: EventPayload>(_ golden: EventEnvelope<P>) -> Contract {
        Contract(
            eventType: P.eventType,
            encodeGolden: { try CanonicalJSON.encode(golden) },
            decode: { bytes in
                let decoded = try CanonicalJSON.decode(EventEnvelope<P>.self, from: bytes)
                guard decoded == golden else { throw ContractMismatch(eventType: P.eventType) }
            }
        )
    }
}

struct ContractMismatch: Error { let eventType: String }

/// The golden value of every event type. Adding an event type means adding it here, with a
/// fixture and a schema; the tests below then pin it.
let allContracts: [Contract] = [
    .of(
        EventEnvelope(
            id: "ledger-5f0c1d2e3a4b5c6d7e8f901a2b3c4d5e", source: "/tally/finance", time: at("2026-11-22T08:00:02.000Z"), tenant: "org_01J9Z3ACME",
            correlationID: "0193f3a2-7c1e-7d4b-9a55-1f2e3d4c5b6a", causationID: "8c7d5e1a-3f2b-8a4c-9d6e-0f1a2b3c4d5e",
            data: LedgerTransactionPosted(
                ledger: "org_01J9Z3ACME", transactionID: 41, sequence: 7, key: "stripe:pi_3QAbcLkdIwHu7ix21vN3dPqR:capture", kind: "capture",
                payment: LedgerPaymentReference(provider: .stripe, paymentID: "pi_3QAbcLkdIwHu7ix21vN3dPqR"), reverses: nil,
                causeEventID: "8c7d5e1a-3f2b-8a4c-9d6e-0f1a2b3c4d5e", causeEventType: "tally.payment.captured.v1", occurredAt: at("2026-11-22T08:00:00.000Z"),
                postedAt: at("2026-11-22T08:00:02.000Z"),
                entries: [
                    LedgerPostingEntry(account: "provider:stripe:clearing", currency: CurrencyCode(rawValue: "USD")!, amountMinor: 4728),
                    LedgerPostingEntry(account: "expenses:provider_fees", currency: CurrencyCode(rawValue: "USD")!, amountMinor: 172),
                    LedgerPostingEntry(account: "income:revenue", currency: CurrencyCode(rawValue: "USD")!, amountMinor: -4900),
                ],
                contentSHA256: "3b1f4c0e9a8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180f7e6d5c4b3a291807",
                chainSHA256: "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180f7e6d5c4b3a2918073b1f4c0e")
        )),
    .of(
        EventEnvelope(
            id: "0193f3a2-7c1e-7d4b-9a55-1f2e3d4c5b6a", source: "/tally/ingest-gateway", time: at("2026-11-22T08:00:00.123Z"),
            tenant: "org_01J9Z3ACME", correlationID: "0193f3a2-7c1e-7d4b-9a55-1f2e3d4c5b6a", causationID: nil,
            data: WebhookReceived(
                inboxID: "0193f3a2-7c1e-7d4b-9a55-1f2e3d4c5b6a", sourceID: "src_01J9Z3K", provider: .stripe,
                providerEventID: "evt_1QAbc2Def3", providerEventType: "payment_intent.succeeded",
                receivedAt: at("2026-11-22T08:00:00.123Z"), trust: .verified, contentType: "application/json",
                bodyBase64:
                    "eyJpZCI6ImV2dF8xUUFiYzJEZWYzIiwib2JqZWN0IjoiZXZlbnQiLCJ0eXBlIjoicGF5bWVudF9pbnRlbnQuc3VjY2VlZGVkIiwiY3JlYXRlZCI6MTc5NTMzNDQwMCwiZGF0YSI6eyJvYmplY3QiOnsiaWQiOiJwaV8zUUFiYyIsImFtb3VudCI6MTk5OSwiY3VycmVuY3kiOiJ1c2QifX19",
                bodySHA256: "b3b67cdab292d486cb29d2bb23f8c0a5738c65c0ec00f3559e34e739185df76b"
            )
        )),
    .of(
        EventEnvelope(
            id: "0193f3a2-8000-7abc-8def-000000000001", source: "/tally/normalizer", time: at("2026-11-22T08:00:00.456Z"),
            tenant: "org_01J9Z3ACME", correlationID: "0193f3a2-7c1e-7d4b-9a55-1f2e3d4c5b6a",
            causationID: "0193f3a2-7c1e-7d4b-9a55-1f2e3d4c5b6a",
            data: WebhookOutcome(
                inboxID: "0193f3a2-7c1e-7d4b-9a55-1f2e3d4c5b6a", status: .processed,
                canonicalEventIDs: ["0193f3a2-8000-7abc-8def-000000000002"], reason: nil
            )
        )),
    .of(
        EventEnvelope(
            id: "8c7d5e1a-3f2b-8a4c-9d6e-0f1a2b3c4d5e", source: "/tally/normalizer", time: at("2026-11-22T08:00:01.000Z"),
            tenant: "org_01J9Z3ACME", correlationID: "0193f3a2-7c1e-7d4b-9a55-1f2e3d4c5b6a",
            causationID: "0193f3a2-7c1e-7d4b-9a55-1f2e3d4c5b6a",
            data: PaymentCaptured(
                origin: EventOrigin(
                    provider: .stripe, providerEventID: "evt_3QAbcLkdIwHu7ix21Tq0aB9x", occurredAt: at("2026-11-22T08:00:00.000Z"),
                    sourceInboxID: "0193f3a2-7c1e-7d4b-9a55-1f2e3d4c5b6a", trust: .verified),
                paymentID: "pi_3QAbcLkdIwHu7ix21vN3dPqR",
                amount: Money(amountMinor: 4900, currency: CurrencyCode(rawValue: "USD")!),
                fee: Money(amountMinor: 172, currency: CurrencyCode(rawValue: "USD")!),
                customerRef: "cus_R2kLmN8pQr5sTu", orderRef: "ord_7731", subscriptionRef: nil, invoiceRef: "in_1QAbcLkdIwHu7ix2bB7cD8eF"
            )
        )),
    .of(
        canonical(
            PaymentIntentCreated(
                origin: stripeOrigin, paymentID: "pi_3QAbcLkdIwHu7ix21vN3dPqR", amount: usd(4900), customerRef: "cus_R2kLmN8pQr5sTu",
                orderRef: "ord_7731", subscriptionRef: nil, invoiceRef: "in_1QAbcLkdIwHu7ix2bB7cD8eF"), from: stripeOrigin)),
    .of(
        canonical(
            PaymentRefunded(
                origin: stripeOrigin, paymentID: "pi_3QAbcLkdIwHu7ix21vN3dPqR", refundID: "re_3QAbdLkdIwHu7ix20pL4mN5o",
                amount: usd(1500), full: false), from: stripeOrigin)),
    .of(
        canonical(
            PaymentDisputed(
                origin: stripeOrigin, paymentID: "pi_3QAbcLkdIwHu7ix21vN3dPqR", disputeID: "dp_1QAbeLkdIwHu7ix2hH9iJ0kL",
                amount: usd(3400), reason: "fraudulent"), from: stripeOrigin)),
    .of(
        canonical(
            PaymentDisputeClosed(
                origin: stripeOrigin, paymentID: "pi_3QAbcLkdIwHu7ix21vN3dPqR", disputeID: "dp_1QAbeLkdIwHu7ix2hH9iJ0kL",
                amount: usd(3400), outcome: .lost), from: stripeOrigin)),
    .of(
        canonical(
            PayoutPaid(
                origin: stripeOrigin, payoutID: "po_1QAbhLkdIwHu7ix2tT5uV6wX", amount: usd(3240), fees: usd(60),
                arrivalDate: "2026-11-23", paymentRefs: ["pi_3QAbcLkdIwHu7ix21vN3dPqR"]), from: stripeOrigin)),
    .of(
        canonical(
            InvoicePaymentFailed(
                origin: stripeOrigin, invoiceID: "in_1QAbgLkdIwHu7ix2nN3oP4qR", invoiceNumber: "ACME-0042", subscriptionRef: "sub_1QAbcLkdIwHu7ix2mM1nO2pQ",
                customerRef: "cus_R2kLmN8pQr5sTu", amountDue: usd(4900), attemptCount: 2, nextRetryAt: at("2026-12-25T08:01:40.000Z")), from: stripeOrigin)),
    .of(
        canonical(
            PaymentFailed(
                origin: stripeOrigin, paymentID: "pi_3QAbiLkdIwHu7ix21wX4yZ5a", amount: usd(4900), reasonCode: "insufficient_funds",
                customerRef: "cus_R2kLmN8pQr5sTu", subscriptionRef: nil, invoiceRef: "in_1QAbgLkdIwHu7ix2nN3oP4qR"), from: stripeOrigin)),
    .of(
        canonical(
            InvoicePaid(
                origin: stripeOrigin, invoiceID: "in_1QAbcLkdIwHu7ix2bB7cD8eF", invoiceNumber: "ACME-0041", subscriptionRef: "sub_1QAbcLkdIwHu7ix2mM1nO2pQ",
                customerRef: "cus_R2kLmN8pQr5sTu", amountPaid: usd(4900), paymentRef: "pi_3QAbcLkdIwHu7ix21vN3dPqR",
                paidAt: at("2026-11-23T08:00:00.000Z")), from: stripeOrigin)),
    .of(canonical(SubscriptionActivated(origin: stripeOrigin, subscription: proSubscription(status: "active")), from: stripeOrigin)),
    .of(canonical(SubscriptionChanged(origin: stripeOrigin, subscription: proSubscription(status: "active")), from: stripeOrigin)),
    .of(canonical(SubscriptionPastDue(origin: stripeOrigin, subscription: proSubscription(status: "past_due")), from: stripeOrigin)),
    .of(canonical(SubscriptionPaused(origin: stripeOrigin, subscription: proSubscription(status: "paused"), reason: "customer_request"), from: stripeOrigin)),
    .of(canonical(SubscriptionResumed(origin: stripeOrigin, subscription: proSubscription(status: "active")), from: stripeOrigin)),
    .of(canonical(SubscriptionCanceled(origin: stripeOrigin, subscription: proSubscription(status: "canceled"), reason: "payment_failed"), from: stripeOrigin)),
    .of(
        canonical(
            OrderPlaced(
                origin: internalOrigin, orderID: "ord_7731", customerRef: "cust_4410",
                lines: [OrderLine(sku: "PRO-SEAT", description: "Pro seat", quantity: 5, unitPrice: usd(980), taxRateBps: 0, tax: usd(0), total: usd(4900))],
                subtotal: usd(4900), tax: usd(0), total: usd(4900), paymentRef: "pi_3QAbcLkdIwHu7ix21vN3dPqR"), from: internalOrigin)),
    .of(canonical(OrderCanceled(origin: internalOrigin, orderID: "ord_7731", reason: "customer_request"), from: internalOrigin)),
    .of(
        canonical(
            CustomerUpserted(
                origin: internalOrigin, customerID: "cust_4410", email: "ana.silva@example.com", name: "Ana Silva",
                phone: "+5511987654321", locale: "pt-BR", country: "BR"), from: internalOrigin)),
    .of(
        canonical(
            UsageRecorded(
                origin: internalOrigin, transactionID: "txn_bookings_20261124_0042",
                subscription: SubscriptionReference(provider: .stripe, subscriptionID: "sub_1QAbcLkdIwHu7ix2mM1nO2pQ"), customerRef: "cus_R2kLmN8pQr5sTu",
                metric: "bookings_per_month", quantity: 3, recordedAt: at("2026-11-22T07:59:58.000Z")), from: internalOrigin)),
    .of(
        EventEnvelope(
            id: "notification-2c4744cd702991bc2c36e06b40d438e1", source: "/tally/billing", time: at("2026-11-23T08:00:02.000Z"), tenant: "org_01J9Z3ACME",
            correlationID: "0193f3a2-9000-7abc-8def-000000000010", causationID: "8c7d5e1a-3f2b-8a4c-9d6e-0f1a2b3c4d60",
            data: NotificationRequested(
                dedupeKey: dunningDedupeKey, templateKey: "dunning.payment_failed", channels: [.email, .whatsapp],
                recipient: NotificationRecipient(customer: dunnedCustomer), locale: "pt-BR",
                variables: [
                    "amount": "R$ 149,90", "due_date": "30/11/2026", "invoice_number": "QTALLY-0042",
                    "pay_url": "https://invoice.stripe.com/i/acct_1QTally/in_1QTallyInv",
                ],
                notBefore: at("2026-11-23T11:00:00.000Z"), causeType: "tally.invoice.payment_failed.v1")
        )),
    .of(
        EventEnvelope(
            id: "delivery-058dfe0298d11ec6355c4cde67fedb08", source: "/tally/notifications", time: at("2026-11-23T11:05:14.000Z"),
            tenant: "org_01J9Z3ACME", correlationID: "0193f3a2-9000-7abc-8def-000000000010", causationID: "notification-2c4744cd702991bc2c36e06b40d438e1",
            data: NotificationDelivery(
                deliveryID: "0193f3a2-b000-7abc-8def-000000000030", dedupeKey: dunningDedupeKey, templateKey: "dunning.payment_failed", status: .sent,
                channel: .email, provider: "smtp:primary", attempts: 2, offline: false, reason: nil, nextAttemptAt: nil, customer: dunnedCustomer)
        )),
    .of(
        EventEnvelope(
            id: "entitlement-6a1d0c4b9e2f7a35c8d1e0f9b2a4c6d8", source: "/tally/billing", time: at("2026-11-30T08:00:02.000Z"), tenant: "org_01J9Z3ACME",
            correlationID: "0193f3a2-9000-7abc-8def-000000000010", causationID: "billing-job-dunning-2026-11-30",
            data: EntitlementChanged(
                subscription: SubscriptionReference(provider: .stripe, subscriptionID: "sub_1QAbcLkdIwHu7ix2mM1nO2pQ"), customerRef: "cus_R2kLmN8pQr5sTu",
                access: .blocked, previousAccess: .granted, planCode: "pro", planVersion: 2, limits: ["bookings_per_month": 500, "seats": 5],
                blocks: [EntitlementBlock(kind: .dunning, reason: "invoice_overdue", since: at("2026-11-30T08:00:00.000Z"), source: "dunning")],
                revision: 4, cause: "dunning.block", effectiveAt: at("2026-11-30T08:00:00.000Z"))
        )),
    .of(
        reconciliation(
            "rec-3c2b1a09f8e7d6c5b4a3928170f6e5d4",
            MatchRecorded(
                org: "org_01J9Z3ACME", checkKey: "order_payment:order:ord_7731", leg: "order_payment", subject: "order:ord_7731",
                counterparts: ["payment:pi_3QAbcLkdIwHu7ix21vN3dPqR"], status: "mismatched", reason: "amount_mismatch", expectedUntil: nil,
                expected: usd(4900), actual: usd(4899), orderID: "ord_7731", day: "2026-11-22", revision: 2, recordedAt: at("2026-11-23T08:00:02.000Z")))),
    .of(
        reconciliation(
            "rec-4d3c2b1a09f8e7d6c5b4a3928170f6e5",
            DiscrepancyOpened(
                org: "org_01J9Z3ACME", discrepancyID: "dsc_5e4d3c2b1a09f8e7d6c5b4a3", checkKey: "order_payment:order:ord_7731", leg: "order_payment",
                reason: "amount_mismatch", subject: "order:ord_7731", counterparts: ["payment:pi_3QAbcLkdIwHu7ix21vN3dPqR"], expected: usd(4900),
                actual: usd(4899), orderID: "ord_7731", day: "2026-11-22", revision: 1, openedAt: at("2026-11-23T08:00:02.000Z")))),
    .of(
        reconciliation(
            "rec-5e4d3c2b1a09f8e7d6c5b4a3928170f6",
            DiscrepancyResolved(
                org: "org_01J9Z3ACME", discrepancyID: "dsc_5e4d3c2b1a09f8e7d6c5b4a3", checkKey: "order_payment:order:ord_7731", reason: "amount_mismatch",
                resolvedBy: .manual, revision: 1, resolvedAt: at("2026-11-24T10:30:02.000Z"), openSeconds: 95_400))),
    .of(
        reconciliation(
            "rec-6f5e4d3c2b1a09f8e7d6c5b4a3928170",
            RunCompleted(
                org: "org_01J9Z3ACME", runID: "run_0193f3a2c0007abc", trigger: "scheduled", startedAt: at("2026-11-24T06:00:00.000Z"),
                endedAt: at("2026-11-24T06:00:01.250Z"), itemsChecked: 42, opened: 2, resolved: 1, errors: 0))),
]

/// The envelope of the reconciliation fixtures: published by reconciliation, keyed by org.
func reconciliation<P: EventPayload>(_ id: String, _ payload: P) -> EventEnvelope<P> {
    EventEnvelope(
        id: id, source: "/tally/reconciliation", time: at("2026-11-23T08:00:02.000Z"), tenant: "org_01J9Z3ACME",
        correlationID: "0193f3a2-9000-7abc-8def-000000000011", causationID: "8c7d5e1a-3f2b-8a4c-9d6e-0f1a2b3c4d60", data: payload)
}

/// The notification fixtures' one request: the first dunning email of an invoice.
let dunningDedupeKey = "invoice:in_1QTallyInv:dunning:payment_failed"
let dunnedCustomer = CustomerReference(provider: .stripe, customerID: "cus_QTally123")

let stripeOrigin = EventOrigin(
    provider: .stripe, providerEventID: "evt_3QAbdLkdIwHu7ix20Rf1bC2d", occurredAt: at("2026-11-23T08:00:00.000Z"),
    sourceInboxID: "0193f3a2-9000-7abc-8def-000000000010", trust: .verified)
let internalOrigin = EventOrigin(
    provider: .internal, providerEventID: "ord_evt_01JD2W5R8T0V2X4Z6B8D0F2H4K", occurredAt: at("2026-11-22T08:00:00.000Z"),
    sourceInboxID: "0193f3a2-9000-7abc-8def-000000000011", trust: .verified)

/// The fixtures' one subscription, at a given provider status.
func proSubscription(status: String) -> SubscriptionState {
    SubscriptionState(
        subscriptionID: "sub_1QAbcLkdIwHu7ix2mM1nO2pQ", customerRef: "cus_R2kLmN8pQr5sTu", planCode: "pro_monthly",
        interval: BillingInterval(unit: .month, count: 1), quantity: 5, unitPrice: usd(980), providerStatus: status,
        currentPeriodEnd: at("2026-12-24T08:00:00.000Z"))
}

func usd(_ minor: Int64) -> Money { Money(amountMinor: minor, currency: CurrencyCode(rawValue: "USD")!) }

/// The envelope every canonical golden fixture uses around its payload.
func canonical<P: EventPayload>(_ payload: P, from origin: EventOrigin) -> EventEnvelope<P> {
    EventEnvelope(
        id: "8c7d5e1a-3f2b-8a4c-9d6e-0f1a2b3c4d60", source: "/tally/normalizer", time: at("2026-11-23T08:00:01.000Z"),
        tenant: "org_01J9Z3ACME", correlationID: origin.sourceInboxID, causationID: origin.sourceInboxID, data: payload)
}

/// A fixture's time, written as the fixtures write it.
func at(_ text: String) -> Date {
    guard let date = RFC3339.parse(text) else { preconditionFailure("\(text) is not an RFC 3339 time") }
    return date
}
