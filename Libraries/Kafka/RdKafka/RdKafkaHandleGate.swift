import Synchronization

/// Keeps a librdkafka handle alive while calls on other threads use it.
///
/// Guarantees: `enter` admits a call only while the gate is open; `close` shuts the gate to new
/// calls and returns only after every admitted call has left, so the caller may then destroy
/// the handle without pulling it from under a request in flight. Calls arriving after `close`
/// fail with `KafkaError.Kind.shutdown` instead of touching a destroyed handle.
final class RdKafkaHandleGate: Sendable {
    private struct State {
        var open = true
        var callsInside = 0
        var closers: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let clientDescription: String

    init(clientDescription: String) {
        self.clientDescription = clientDescription
    }

    /// Runs `body` as an admitted call, or throws `.shutdown` when the gate is closed.
    func enter<T>(_ body: () throws(KafkaError) -> T) throws(KafkaError) -> T {
        let admitted = state.withLock { state -> Bool in
            guard state.open else { return false }
            state.callsInside += 1
            return true
        }
        guard admitted else { throw KafkaError(.shutdown, "the \(clientDescription) is closed") }
        defer { leave() }
        return try body()
    }

    /// True once `close` has been called: a call that makes several requests in a row checks
    /// it between them, so closing does not wait for all of them.
    var isClosing: Bool { state.withLock { !$0.open } }

    /// Closes the gate and waits for the calls inside to leave. Returns `true` for the call that
    /// closed it, `false` if it was closed already (the caller must not destroy the handle again).
    func close() async -> Bool {
        let (closedNow, mustWait) = state.withLock { state -> (Bool, Bool) in
            let closedNow = state.open
            state.open = false
            return (closedNow, state.callsInside > 0)
        }
        if mustWait {
            await withCheckedContinuation { (closer: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    guard state.callsInside > 0 else { return true }
                    state.closers.append(closer)
                    return false
                }
                if resumeNow { closer.resume() }
            }
        }
        return closedNow
    }

    private func leave() {
        let closers = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.callsInside -= 1
            guard state.callsInside == 0, !state.open else { return [] }
            defer { state.closers = [] }
            return state.closers
        }
        for closer in closers { closer.resume() }
    }
}
