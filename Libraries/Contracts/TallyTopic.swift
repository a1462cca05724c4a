/// Every Kafka topic Tally uses: its name, its partition count on the local stack and what its
/// message key is. `ops/topics.txt` (what the stack scripts create) and
/// `contracts/asyncapi.yaml` must list exactly these; a contract test checks both.
public struct TallyTopic: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let partitions: Int32
    /// What the message key is; messages with the same key keep their order.
    public let key: String

    public var description: String { name }

    public static let rawWebhooks = TallyTopic(name: "tally.ingest.raw-webhooks.v1", partitions: 6, key: "source id and provider event id")
    public static let webhookOutcomes = TallyTopic(name: "tally.ingest.webhook-outcomes.v1", partitions: 6, key: "inbox id")
    public static let payments = TallyTopic(name: "tally.canonical.payments.v1", partitions: 6, key: "payment id")
    public static let subscriptions = TallyTopic(name: "tally.canonical.subscriptions.v1", partitions: 6, key: "subscription id")
    public static let invoices = TallyTopic(name: "tally.canonical.invoices.v1", partitions: 6, key: "invoice id")
    public static let orders = TallyTopic(name: "tally.canonical.orders.v1", partitions: 6, key: "order id")
    public static let payouts = TallyTopic(name: "tally.canonical.payouts.v1", partitions: 6, key: "payout id")
    public static let customers = TallyTopic(name: "tally.canonical.customers.v1", partitions: 6, key: "customer id")
    public static let usage = TallyTopic(name: "tally.canonical.usage.v1", partitions: 6, key: "subscription id")
    public static let entitlements = TallyTopic(name: "tally.billing.entitlements.v1", partitions: 3, key: "subscription id")
    public static let notificationRequests = TallyTopic(name: "tally.notifications.requests.v1", partitions: 3, key: "dedupe key")
    public static let notificationDeliveries = TallyTopic(name: "tally.notifications.deliveries.v1", partitions: 3, key: "delivery id")
    public static let ledgerPostings = TallyTopic(name: "tally.finance.ledger-postings.v1", partitions: 6, key: "org id")
    public static let financeInvoices = TallyTopic(name: "tally.finance.invoices.v1", partitions: 3, key: "invoice id")
    public static let privacyCommands = TallyTopic(name: "tally.privacy.commands.v1", partitions: 3, key: "privacy request id")
    public static let privacyResults = TallyTopic(name: "tally.privacy.results.v1", partitions: 3, key: "privacy request id")
    public static let reconciliation = TallyTopic(name: "tally.reconciliation.v1", partitions: 3, key: "org id")

    /// The dead-letter topic of one service.
    public static func deadLetters(of service: String) -> TallyTopic {
        TallyTopic(name: "tally.\(service).dead-letters.v1", partitions: 1, key: "original message key")
    }

    /// The complete catalog.
    public static let all: [TallyTopic] =
        [
            rawWebhooks, webhookOutcomes, payments, subscriptions, invoices, orders, payouts, customers, usage,
            entitlements, notificationRequests, notificationDeliveries, ledgerPostings, financeInvoices,
            privacyCommands, privacyResults, reconciliation,
        ] + TallyService.all.map(\.deadLetterTopic)
}
