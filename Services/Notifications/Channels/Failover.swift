import Foundation
import Synchronization

/// One channel's providers in order of preference (SMTP relays, WhatsApp accounts), each behind
/// its own `CircuitBreaker`: an attempt goes to the first provider whose breaker allows it, so
/// after `threshold` consecutive failures of the first the next takes over, and after the
/// cool-down one attempt probes the first again. When every breaker is open the last provider
/// still gets the attempt: a message is never held back only because every provider failed
/// before. Breakers live in this process: each replica learns a provider's health from its own
/// attempts.
final class Failover<Provider: Sendable>: Sendable {
    let providers: [Provider]
    private let breakers: Mutex<[CircuitBreaker]>

    init(_ providers: [Provider], threshold: Int, coolDown: Duration) {
        self.providers = providers
        self.breakers = Mutex(providers.map { _ in CircuitBreaker(threshold: threshold, coolDown: coolDown) })
    }

    /// The index of the provider that takes the next attempt (claiming a half-open probe).
    func choose(now: Date) -> Int {
        breakers.withLock { breakers in
            for index in breakers.indices where breakers[index].allows(now: now) { return index }
            return breakers.count - 1
        }
    }

    func record(_ result: AttemptResult, provider index: Int, now: Date) {
        breakers.withLock { breakers in
            if CircuitBreaker.countsAsFailure(result) {
                breakers[index].recordFailure(now: now)
            } else {
                breakers[index].recordSuccess()
            }
        }
    }

    /// Sends through the chosen provider and records its outcome; nil when there is no provider.
    func attempt(_ send: (Provider) async -> AttemptResult) async -> AttemptResult? {
        guard !providers.isEmpty else { return nil }
        let index = choose(now: Date())
        let result = await send(providers[index])
        record(result, provider: index, now: Date())
        return result
    }
}
