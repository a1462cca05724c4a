import Foundation

/// A way to reach a person: the channels notifications can deliver on.
public enum NotificationChannel: String, Codable, Sendable, Equatable, CaseIterable {
    case email
    case whatsapp
    /// An HTTPS endpoint the tenant registered, called with a Standard Webhooks signature.
    case webhook
}

/// Who a notification is for. Exactly one of `customer` and `address` is set.
///
/// - `customer`: a provider customer (`customer.upserted` delivered the contact details, which
///   only the notifications service keeps).
/// - `address`: explicit details, for operator mail or a tenant endpoint. This is personal data:
///   it lives in the request and in the delivery row, and obeys erasure there.
public struct NotificationRecipient: Codable, Sendable, Equatable {
    public var customer: CustomerReference?
    public var address: NotificationAddress?

    public init(customer: CustomerReference) {
        self.customer = customer
        self.address = nil
    }

    public init(address: NotificationAddress) {
        self.customer = nil
        self.address = address
    }
}

/// A customer as a provider names it: the key of `customer.upserted`.
public struct CustomerReference: Codable, Sendable, Equatable, Hashable {
    public var provider: WebhookProvider
    public var customerID: String

    public init(provider: WebhookProvider, customerID: String) {
        self.provider = provider
        self.customerID = customerID
    }

    enum CodingKeys: String, CodingKey {
        case provider, customerID = "customer_id"
    }
}

/// Explicit contact details of a recipient; each is optional, the channel preference picks.
public struct NotificationAddress: Codable, Sendable, Equatable {
    public var email: String?
    /// E.164, e.g. `+5511987654321`.
    public var phone: String?
    /// The id of a webhook endpoint the tenant registered with notifications.
    public var endpointID: String?
    /// The name to greet, when the request knows it.
    public var name: String?

    public init(email: String? = nil, phone: String? = nil, endpointID: String? = nil, name: String? = nil) {
        self.email = email
        self.phone = phone
        self.endpointID = endpointID
        self.name = name
    }

    enum CodingKeys: String, CodingKey {
        case email, phone, endpointID = "endpoint_id", name
    }
}

/// A service asks for a notification to reach someone. Published through the requester's outbox
/// on `tally.notifications.requests.v1`, keyed by dedupe key.
///
/// Guarantees the notifications service gives: at most one delivery per (org, `dedupe_key`) — the
/// same request twice, or a replay of the topic, creates nothing new; the delivery is not sent
/// before `not_before`; every variable the template names must be in `variables`, or the delivery
/// fails naming the variable (a message is never sent half-filled).
public struct NotificationRequested: EventPayload {
    public static let eventType = "tally.notification.requested.v1"
    public static let topic = TallyTopic.notificationRequests

    /// Unique per org for one intended message, e.g. `invoice:in_123:dunning:payment_failed`.
    public var dedupeKey: String
    /// The template, e.g. `dunning.payment_failed`.
    public var templateKey: String
    /// The channels to try, most preferred first; the first one the recipient has an address for
    /// is used.
    public var channels: [NotificationChannel]
    public var recipient: NotificationRecipient
    /// BCP 47, e.g. `pt-BR`; nil uses the customer's locale, then the default.
    public var locale: String?
    /// The template's named values, all strings (amounts arrive formatted by the requester).
    public var variables: [String: String]
    /// The earliest time it may be sent; nil sends as soon as possible.
    public var notBefore: Date?
    /// What caused the request, e.g. `tally.invoice.payment_failed.v1` or `operator`.
    public var causeType: String

    public init(
        dedupeKey: String, templateKey: String, channels: [NotificationChannel], recipient: NotificationRecipient, locale: String?,
        variables: [String: String], notBefore: Date?, causeType: String
    ) {
        self.dedupeKey = dedupeKey
        self.templateKey = templateKey
        self.channels = channels
        self.recipient = recipient
        self.locale = locale
        self.variables = variables
        self.notBefore = notBefore
        self.causeType = causeType
    }

    public var partitionKey: String { dedupeKey }

    /// The longest dedupe key (the schema's `maxLength`): a request with a longer one does not
    /// decode, so the consumer dead-letters it naming the field instead of failing on the table.
    public static let maxDedupeKeyLength = 200

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let dedupeKey = try container.decode(String.self, forKey: .dedupeKey)
        guard (1...Self.maxDedupeKeyLength).contains(dedupeKey.count) else {
            throw DecodingError.dataCorruptedError(
                forKey: .dedupeKey, in: container, debugDescription: "dedupe_key must be 1 to \(Self.maxDedupeKeyLength) characters")
        }
        self.init(
            dedupeKey: dedupeKey, templateKey: try container.decode(String.self, forKey: .templateKey),
            channels: try container.decode([NotificationChannel].self, forKey: .channels),
            recipient: try container.decode(NotificationRecipient.self, forKey: .recipient), locale: try container.decodeIfPresent(String.self, forKey: .locale),
            variables: try container.decode([String: String].self, forKey: .variables), notBefore: try container.decodeIfPresent(Date.self, forKey: .notBefore),
            causeType: try container.decode(String.self, forKey: .causeType))
    }

    enum CodingKeys: String, CodingKey {
        case dedupeKey = "dedupe_key", templateKey = "template_key", channels, recipient, locale, variables
        case notBefore = "not_before", causeType = "cause_type"
    }
}

/// Where a delivery ended up, as the notifications service announces it.
public enum NotificationDeliveryStatus: String, Codable, Sendable, Equatable, CaseIterable {
    /// Accepted by the provider (the SMTP relay answered 250, the endpoint answered 2xx), or
    /// stored by a channel running offline (`offline` is then true).
    case sent
    /// One attempt failed and another is scheduled (`next_attempt_at`).
    case failed
    /// Every attempt failed, or the failure was permanent; an operator may replay it.
    case dead
    /// It could not be sent at all: no address for any allowed channel, or a template that did
    /// not render. Not retried.
    case undeliverable
}

/// What happened to a notification: published on `tally.notifications.deliveries.v1`, keyed by
/// delivery id, once per attempt outcome (the event id is derived from the delivery and the
/// attempt, so a reprocessed attempt never publishes twice). Carries no address and no message
/// body: only which channel and provider, and why.
public struct NotificationDelivery: EventPayload {
    public static let eventType = "tally.notification.delivery.v1"
    public static let topic = TallyTopic.notificationDeliveries

    public var deliveryID: String
    public var dedupeKey: String
    public var templateKey: String
    public var status: NotificationDeliveryStatus
    /// Nil when undeliverable before a channel was chosen.
    public var channel: NotificationChannel?
    /// The relay or API that took the attempt, e.g. `smtp:primary`.
    public var provider: String?
    /// How many attempts were made so far.
    public var attempts: Int
    /// True when a channel ran offline and only stored the message.
    public var offline: Bool
    /// A stable reason code when not sent, e.g. `no_address`, `smtp_5xx`, `template_variable_missing`.
    public var reason: String?
    public var nextAttemptAt: Date?
    /// The customer the delivery was for, if any (a reference, not contact details).
    public var customer: CustomerReference?

    public init(
        deliveryID: String, dedupeKey: String, templateKey: String, status: NotificationDeliveryStatus, channel: NotificationChannel?,
        provider: String?, attempts: Int, offline: Bool, reason: String?, nextAttemptAt: Date?, customer: CustomerReference?
    ) {
        self.deliveryID = deliveryID
        self.dedupeKey = dedupeKey
        self.templateKey = templateKey
        self.status = status
        self.channel = channel
        self.provider = provider
        self.attempts = attempts
        self.offline = offline
        self.reason = reason
        self.nextAttemptAt = nextAttemptAt
        self.customer = customer
    }

    public var partitionKey: String { deliveryID }

    enum CodingKeys: String, CodingKey {
        case deliveryID = "delivery_id", dedupeKey = "dedupe_key", templateKey = "template_key", status, channel, provider, attempts, offline
        case reason, nextAttemptAt = "next_attempt_at", customer
    }
}
