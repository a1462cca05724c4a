import Foundation

/// Decides whether a provider (an SMTP relay, an API) gets the next attempt or its fallback does:
/// after `threshold` consecutive failures the breaker opens and the fallback takes over; after
/// `coolDown` one attempt probes the provider again (half-open), and its outcome closes or
/// re-opens the breaker. Only failures that are the provider's (timeouts, refused connections,
/// 4xx replies) count; a recipient the provider refuses permanently does not.
struct CircuitBreaker: Sendable, Equatable {
    enum State: Sendable, Equatable {
        case closed(consecutiveFailures: Int)
        case open(since: Date)
        /// One probe is out; nothing else goes to the provider until it ends.
        case halfOpen
    }

    var threshold: Int
    var coolDown: Duration
    private(set) var state: State = .closed(consecutiveFailures: 0)

    init(threshold: Int, coolDown: Duration) {
        self.threshold = threshold
        self.coolDown = coolDown
    }

    /// Whether the provider takes the next attempt; `true` in half-open claims the probe.
    mutating func allows(now: Date) -> Bool {
        switch state {
        case .closed: return true
        case .halfOpen: return false
        case .open(let since):
            guard now >= since.addingTimeInterval(coolDown.timeInterval) else { return false }
            state = .halfOpen
            return true
        }
    }

    mutating func recordSuccess() {
        state = .closed(consecutiveFailures: 0)
    }

    mutating func recordFailure(now: Date) {
        switch state {
        case .closed(let failures):
            state = failures + 1 >= threshold ? .open(since: now) : .closed(consecutiveFailures: failures + 1)
        case .halfOpen, .open:
            state = .open(since: now)
        }
    }

    /// Whether an attempt's outcome is the provider's failure.
    static func countsAsFailure(_ result: AttemptResult) -> Bool {
        result.outcome == .transient
    }
}
