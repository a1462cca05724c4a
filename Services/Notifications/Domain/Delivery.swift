import Contracts
import Foundation

/// Where a delivery is in its life.
///
/// ```
/// scheduled ──claim──▶ sending ──delivered──▶ sent
///     ▲                  │ ├──transient, attempts left──▶ retrying ──claim──▶ sending …
///     │                  │ ├──permanent, gone, or out of attempts──▶ dead ──replay──▶ scheduled
///     │                  │ └──lease expired (crash)──▶ claimed again (the attempt is `abandoned`)
///     └── deferred (per-recipient limit, contact not known yet)
/// scheduled/retrying ──no address, template does not render──▶ undeliverable
/// ```
enum DeliveryStatus: String, Codable, Sendable, Equatable, CaseIterable {
    case scheduled, sending, retrying, sent, dead, undeliverable

    /// Nothing more happens to it without a person (a replay of a dead one).
    var isFinal: Bool { self == .sent || self == .dead || self == .undeliverable }
}

/// The part of a delivery its lifecycle decides on.
struct DeliveryState: Sendable, Equatable {
    var id: UUID
    var status: DeliveryStatus
    /// Attempts over the delivery's whole life.
    var attempts: Int
    /// Rounds of attempts: 1, then one more per replay.
    var round: Int
    /// Attempts in the current round; the retry policy's limit applies to these.
    var roundAttempts: Int
    var nextAttemptAt: Date
    var channel: NotificationChannel?
    var provider: String?
    var offline: Bool
    var lastReason: String?
    var lastDetail: String?
    var finishedAt: Date?

    static func new(id: UUID, notBefore: Date?, now: Date) -> DeliveryState {
        DeliveryState(
            id: id, status: .scheduled, attempts: 0, round: 1, roundAttempts: 0, nextAttemptAt: max(notBefore ?? now, now), channel: nil,
            provider: nil, offline: false, lastReason: nil, lastDetail: nil, finishedAt: nil)
    }
}

/// What a finished attempt changes.
struct Settlement: Sendable, Equatable {
    var state: DeliveryState
    /// The delivery event to publish.
    var announced: NotificationDeliveryStatus
    /// The tenant's endpoint answered 410 Gone: disable it.
    var disablesEndpoint: Bool
}

/// Why a person's replay was refused.
enum ReplayRefusal: Error, Equatable {
    /// Only a dead delivery is replayed; the status says where it is.
    case notDead(DeliveryStatus)
}

/// The delivery rules, as pure functions: the worker and the admin routes both go through them.
enum DeliveryLifecycle {
    /// Whether a worker may claim the delivery at `now`: it is waiting and due, or a claim's lease
    /// ran out (the worker that held it stopped without recording an outcome).
    static func isDue(_ state: DeliveryState, leaseUntil: Date?, now: Date) -> Bool {
        switch state.status {
        case .scheduled, .retrying: return state.nextAttemptAt <= now
        case .sending: return (leaseUntil ?? .distantPast) < now
        case .sent, .dead, .undeliverable: return false
        }
    }

    /// A claim that will send: one more attempt, on `channel`.
    static func startAttempt(_ state: DeliveryState, channel: NotificationChannel) -> DeliveryState {
        var next = state
        next.status = .sending
        next.attempts += 1
        next.roundAttempts += 1
        next.channel = channel
        return next
    }

    /// A claim that will not send yet (the recipient's hourly limit, a contact not known yet):
    /// no attempt is counted.
    static func deferred(_ state: DeliveryState, until: Date, reason: String) -> DeliveryState {
        var next = state
        next.status = state.roundAttempts == 0 ? .scheduled : .retrying
        next.nextAttemptAt = until
        next.lastReason = reason
        next.lastDetail = nil
        return next
    }

    /// It cannot be sent at all; final.
    static func undeliverable(_ state: DeliveryState, reason: String, detail: String?, now: Date) -> DeliveryState {
        var next = state
        next.status = .undeliverable
        next.lastReason = reason
        next.lastDetail = detail
        next.finishedAt = now
        return next
    }

    /// The outcome of the attempt just made (`startAttempt` was applied before sending).
    static func settle(_ state: DeliveryState, with result: AttemptResult, policy: RetryPolicy, now: Date) -> Settlement {
        var next = state
        next.provider = result.provider
        next.lastReason = result.reason
        next.lastDetail = result.detail
        switch result.outcome {
        case .delivered, .deliveredOffline:
            next.status = .sent
            next.offline = result.outcome == .deliveredOffline
            next.lastReason = nil
            next.finishedAt = now
            return Settlement(state: next, announced: .sent, disablesEndpoint: false)
        case .transient where policy.allowsAnother(after: state.roundAttempts):
            next.status = .retrying
            let delay = policy.delay(afterAttempt: state.roundAttempts, deliveryID: state.id, retryAfter: result.retryAfter)
            next.nextAttemptAt = now.addingTimeInterval(delay.timeInterval)
            return Settlement(state: next, announced: .failed, disablesEndpoint: false)
        case .transient, .permanent, .endpointGone:
            next.status = .dead
            next.finishedAt = now
            if result.outcome == .transient { next.lastReason = "attempts_exhausted:" + (result.reason ?? "transient") }
            return Settlement(state: next, announced: .dead, disablesEndpoint: result.outcome == .endpointGone)
        }
    }

    /// A person sends a dead delivery again: a new round of attempts, due now.
    static func replay(_ state: DeliveryState, now: Date) throws(ReplayRefusal) -> DeliveryState {
        guard state.status == .dead else { throw .notDead(state.status) }
        var next = state
        next.status = .scheduled
        next.round += 1
        next.roundAttempts = 0
        next.nextAttemptAt = now
        next.finishedAt = nil
        next.lastReason = "replayed"
        next.lastDetail = nil
        return next
    }

    /// The event announcing `state` (its id is derived from the delivery and the attempt).
    static func announcement(
        of state: DeliveryState, status: NotificationDeliveryStatus, dedupeKey: String, templateKey: String, customer: CustomerReference?
    ) -> NotificationDelivery {
        NotificationDelivery(
            deliveryID: state.id.uuidString.lowercased(), dedupeKey: dedupeKey, templateKey: templateKey, status: status, channel: state.channel,
            provider: state.provider, attempts: state.attempts, offline: state.offline, reason: state.lastReason,
            nextAttemptAt: status == .failed ? state.nextAttemptAt : nil, customer: customer)
    }
}
