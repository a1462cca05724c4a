import Synchronization

/// Wakes one waiting task early: a ring while nobody waits is remembered until the next wait.
public final class Doorbell: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, Never>
        var timeout: DeadlineWatch.Entry?
    }
    private struct State {
        var rung = false
        var waiter: Waiter?
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())

    public init() {}

    public func ring() {
        let waiter = state.withLock { state -> Waiter? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        if let timeout = waiter?.timeout { DeadlineWatch.shared.remove(timeout) }
        waiter?.continuation.resume()
    }

    /// Returns after a ring or after `timeout` (within `DeadlineWatch.resolution`), whichever
    /// comes first.
    public func wait(upTo timeout: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let id: UInt64? = state.withLock { state in
                if state.rung {
                    state.rung = false
                    return nil
                }
                state.nextID += 1
                state.waiter = Waiter(id: state.nextID, continuation: continuation)
                return state.nextID
            }
            guard let id else {
                continuation.resume()
                return
            }
            let timeout = DeadlineWatch.shared.add(expiresAt: .now + timeout) {
                let expired = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                    guard let waiter = state.waiter, waiter.id == id else { return nil }
                    state.waiter = nil
                    return waiter.continuation
                }
                expired?.resume()
            }
            // Hand the timeout to the waiter unless a ring already took it (then drop it).
            let stillWaiting = state.withLock { state -> Bool in
                guard state.waiter?.id == id else { return false }
                state.waiter?.timeout = timeout
                return true
            }
            if !stillWaiting { DeadlineWatch.shared.remove(timeout) }
        }
    }
}
