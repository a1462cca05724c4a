import Contracts
import Foundation

/// A canonical payment event as finance reads it: one case per event type it handles.
enum PaymentFact: Sendable, Equatable {
    case intentCreated(PaymentIntentCreated)
    case captured(PaymentCaptured)
    case failed(PaymentFailed)
    case refunded(PaymentRefunded)
    case disputed(PaymentDisputed)
    case disputeClosed(PaymentDisputeClosed)

    var origin: EventOrigin {
        switch self {
        case .intentCreated(let fact): fact.origin
        case .captured(let fact): fact.origin
        case .failed(let fact): fact.origin
        case .refunded(let fact): fact.origin
        case .disputed(let fact): fact.origin
        case .disputeClosed(let fact): fact.origin
        }
    }

    var paymentID: String {
        switch self {
        case .intentCreated(let fact): fact.paymentID
        case .captured(let fact): fact.paymentID
        case .failed(let fact): fact.paymentID
        case .refunded(let fact): fact.paymentID
        case .disputed(let fact): fact.paymentID
        case .disputeClosed(let fact): fact.paymentID
        }
    }

    var payment: PaymentKey { PaymentKey(provider: origin.provider, paymentID: paymentID) }

    var eventType: String {
        switch self {
        case .intentCreated: PaymentIntentCreated.eventType
        case .captured: PaymentCaptured.eventType
        case .failed: PaymentFailed.eventType
        case .refunded: PaymentRefunded.eventType
        case .disputed: PaymentDisputed.eventType
        case .disputeClosed: PaymentDisputeClosed.eventType
        }
    }
}
