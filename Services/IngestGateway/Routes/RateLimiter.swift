import Foundation
import Synchronization

/// Per-key token buckets: `rate` requests per second with bursts up to `burst`. In memory, per
/// process; a refusal says how long to wait (`Retry-After`).
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }
    private let buckets = Mutex<[String: Bucket]>([:])
    let rate: Double
    let burst: Double

    init(ratePerSecond: Double, burst: Double) {
        self.rate = ratePerSecond
        self.burst = burst
    }

    /// Takes one token for `key`. Returns nil when allowed, or the whole seconds to wait.
    func acquire(_ key: String, now: ContinuousClock.Instant = .now) -> Int? {
        buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + seconds * rate)
            bucket.updated = now
            defer {
                buckets[key] = bucket
                if buckets.count > 100_000 { buckets.removeAll(keepingCapacity: true) }
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
        }
    }
}
