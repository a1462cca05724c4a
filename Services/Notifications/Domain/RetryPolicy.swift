import Foundation

/// When a failed delivery is tried again: exponential backoff with jitter, at most
/// `maxAttempts` attempts per round, then the delivery is dead.
///
/// The defaults follow the shape of Svix's published schedule (seconds, then minutes, then hours):
/// 5 s × 6ⁿ⁻¹ capped at 10 h, eight attempts — 5 s, 30 s, 3 min, 18 min, 1 h 48 min, 10 h, 10 h
/// between them, about 22 hours from the first attempt to the last. The jitter spreads
/// retries of many deliveries that failed together (a relay outage) by ±`jitter` of the delay;
/// it is derived from the delivery id and the attempt number, so the same failure always gets
/// the same schedule (reproducible in tests and after a restart).
struct RetryPolicy: Sendable, Equatable, CustomStringConvertible {
    var base: Duration
    var factor: Int
    var maximum: Duration
    var maxAttempts: Int
    /// The spread as a fraction of the delay, 0…0.5.
    var jitter: Double

    static let standard = RetryPolicy(base: .seconds(5), factor: 6, maximum: .seconds(36_000), maxAttempts: 8, jitter: 0.2)
    /// The longest a provider's `Retry-After` may push an attempt back.
    static let retryAfterCap: Duration = .seconds(86_400)

    /// The delay after the `attempt`-th failed attempt of a round (1-based), before jitter.
    func backoff(afterAttempt attempt: Int) -> Duration {
        let maximumSeconds = Double(maximum.components.seconds)
        var seconds = Double(base.components.seconds) + Double(base.components.attoseconds) / 1e18
        for _ in 1..<max(attempt, 1) {
            seconds *= Double(factor)
            if seconds >= maximumSeconds { return maximum }
        }
        return .milliseconds(Int64(min(seconds, maximumSeconds) * 1000))
    }

    /// The delay after the `attempt`-th failed attempt, with the delivery's jitter, at least
    /// what the provider asked for (`retryAfter`, capped at a day).
    func delay(afterAttempt attempt: Int, deliveryID: UUID, retryAfter: Duration? = nil) -> Duration {
        let plain = backoff(afterAttempt: attempt)
        let spread = (Self.unitInterval(deliveryID: deliveryID, attempt: attempt) * 2 - 1) * jitter
        let jittered = Duration.milliseconds(Int64(Double(plain.milliseconds) * (1 + spread)))
        guard let retryAfter else { return jittered }
        return max(jittered, min(retryAfter, Self.retryAfterCap))
    }

    /// Whether a round with `attempts` attempts made may make another.
    func allowsAnother(after attempts: Int) -> Bool { attempts < maxAttempts }

    /// A number in [0, 1) fixed by the delivery and the attempt (FNV-1a over both, then the
    /// top 48 bits).
    static func unitInterval(deliveryID: UUID, attempt: Int) -> Double {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(deliveryID.uuidString.lowercased()):\(attempt)".utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Double(hash >> 16) / Double(UInt64(1) << 48)
    }

    var description: String {
        "RetryPolicy(base: \(base), factor: \(factor), maximum: \(maximum), maxAttempts: \(maxAttempts), jitter: \(jitter))"
    }
}

extension Duration {
    /// Whole milliseconds (rounded down).
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// The duration as a `TimeInterval`, to add to a `Date`.
    var timeInterval: TimeInterval { Double(milliseconds) / 1000 }
}
