import Contracts
import Crypto
import Foundation
import Storage

/// One canonical event a provider payload maps to. Each case is a contract (schema, fixture,
/// Codable type in `Contracts`).
enum CanonicalEvent: Equatable, Sendable {
    case paymentIntentCreated(PaymentIntentCreated)
    case paymentCaptured(PaymentCaptured)
    case paymentFailed(PaymentFailed)
    case paymentRefunded(PaymentRefunded)
    case paymentDisputed(PaymentDisputed)
    case paymentDisputeClosed(PaymentDisputeClosed)
    case payoutPaid(PayoutPaid)
    case invoicePaid(InvoicePaid)
    case invoicePaymentFailed(InvoicePaymentFailed)
    case subscription(SubscriptionChange, SubscriptionState, origin: EventOrigin, reason: String?)
    case orderPlaced(OrderPlaced)
    case orderCanceled(OrderCanceled)
    case customerUpserted(CustomerUpserted)
    case usageRecorded(UsageRecorded)

    /// The typed payload, whatever its type.
    var payload: any EventPayload {
        switch self {
        case .paymentIntentCreated(let payload): payload
        case .paymentCaptured(let payload): payload
        case .paymentFailed(let payload): payload
        case .paymentRefunded(let payload): payload
        case .paymentDisputed(let payload): payload
        case .paymentDisputeClosed(let payload): payload
        case .payoutPaid(let payload): payload
        case .invoicePaid(let payload): payload
        case .invoicePaymentFailed(let payload): payload
        case .subscription(let change, let state, let origin, let reason): change.payload(state, origin: origin, reason: reason)
        case .orderPlaced(let payload): payload
        case .orderCanceled(let payload): payload
        case .customerUpserted(let payload): payload
        case .usageRecorded(let payload): payload
        }
    }

    var eventType: String { type(of: payload).eventType }

    /// The state-bearing object this event changes, for the ordering fence; nil for additive
    /// facts (payment intents, payments, refunds, disputes, payouts, orders, customers, usage), which are
    /// always emitted once.
    var fencedObject: FencedObject? {
        switch self {
        case .subscription(_, let state, let origin, _):
            FencedObject(kind: .subscription, provider: origin.provider, objectID: state.subscriptionID, version: origin.occurredAt)
        case .invoicePaid(let event):
            FencedObject(kind: .invoice, provider: event.origin.provider, objectID: event.invoiceID, version: event.origin.occurredAt)
        case .invoicePaymentFailed(let event):
            FencedObject(kind: .invoice, provider: event.origin.provider, objectID: event.invoiceID, version: event.origin.occurredAt)
        default:
            nil
        }
    }

    /// The outbox form of the event under the given envelope attributes.
    func outboxMessage(id: String, time: Date, tenant: String, correlationID: String, causationID: String) throws -> OutboxMessage {
        try Self.message(payload, id: id, time: time, tenant: tenant, correlationID: correlationID, causationID: causationID)
    }

    private static func message<P: EventPayload>(_ payload: P, id: String, time: Date, tenant: String, correlationID: String, causationID: String) throws -> OutboxMessage {
        try OutboxMessage(EventEnvelope(id: id, source: "/tally/normalizer", time: time, tenant: tenant, correlationID: correlationID, causationID: causationID, data: payload))
    }
}

/// Which subscription lifecycle event a provider event is.
enum SubscriptionChange: String, Sendable, Equatable {
    case activated, changed, pastDue, paused, resumed, canceled

    func payload(_ state: SubscriptionState, origin: EventOrigin, reason: String?) -> any EventPayload {
        switch self {
        case .activated: SubscriptionActivated(origin: origin, subscription: state, reason: reason)
        case .changed: SubscriptionChanged(origin: origin, subscription: state, reason: reason)
        case .pastDue: SubscriptionPastDue(origin: origin, subscription: state, reason: reason)
        case .paused: SubscriptionPaused(origin: origin, subscription: state, reason: reason)
        case .resumed: SubscriptionResumed(origin: origin, subscription: state, reason: reason)
        case .canceled: SubscriptionCanceled(origin: origin, subscription: state, reason: reason)
        }
    }
}

/// A state-bearing provider object and the provider version an event states it at. The version is
/// when the change happened at the provider; providers do not deliver in order.
struct FencedObject: Equatable, Sendable {
    enum Kind: String, Sendable { case subscription, invoice }
    let kind: Kind
    let provider: WebhookProvider
    let objectID: String
    let version: Date
}

/// What a provider payload normalizes to.
enum Normalization: Equatable, Sendable {
    /// Zero or more canonical events, in order.
    case events([CanonicalEvent])
    /// Understood and deliberately not mapped (an event type Tally does not use), with why.
    case ignored(String)
}

/// A payload a mapper could not read: it goes to the dead-letter topic with this reason.
struct MalformedPayload: Error, Equatable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Turns one provider's raw webhook body into canonical events.
protocol ProviderMapping: Sendable {
    func normalize(_ raw: WebhookReceived, body: [UInt8]) throws(MalformedPayload) -> Normalization
}

/// Canonical event ids derive from the inbox id and the event's position, so normalizing the same
/// webhook again (a redelivery or a replay of the raw topic) reproduces exactly the same ids.
enum CanonicalID {
    static func derive(inboxID: String, position: Int) -> String {
        var bytes = Array(SHA256.hash(data: Data("tally.canonical:\(inboxID)#\(position)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80  // version 8: name-based, application-defined
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        let hex = bytes.lowercaseHex
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return parts.map(String.init).joined(separator: "-")
    }
}

/// Reading helpers shared by the mappings.
enum PayloadReading {
    static func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], provider: String) throws(MalformedPayload) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch let DecodingError.keyNotFound(key, context) {
            throw MalformedPayload("\(provider) payload lacks \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw MalformedPayload("\(provider) payload has a wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw MalformedPayload("\(provider) payload is not valid JSON: \(error)")
        }
    }

    static func currency(_ code: String, provider: String) throws(MalformedPayload) -> CurrencyCode {
        guard let currency = CurrencyCode(rawValue: code.uppercased()) else { throw MalformedPayload("\(provider) payload has an unknown currency '\(code)'") }
        return currency
    }

    static func minorUnits(_ text: String, provider: String, field: String) throws(MalformedPayload) -> Int64 {
        guard let value = Int64(text) else { throw MalformedPayload("\(provider) payload field \(field) is not a whole number of minor units: '\(text)'") }
        return value
    }

    /// The instant `unixSeconds` after the epoch.
    static func instant(unixSeconds: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(unixSeconds))
    }

    static func origin(_ raw: WebhookReceived, occurredAt: Date) -> EventOrigin {
        EventOrigin(provider: raw.provider, providerEventID: raw.providerEventID, occurredAt: occurredAt, sourceInboxID: raw.inboxID, trust: raw.trust)
    }
}
