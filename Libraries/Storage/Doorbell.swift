import Synchronization

/// Wakes one waiting task early: a ring while nobody waits is remembered until the next wait.
final class Doorbell: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, Never>
        var timer: Task<Void, Never>?
    }
    private struct State {
        var rung = false
        var waiter: Waiter?
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())

    func ring() {
        let waiter = state.withLock { state -> Waiter? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        // The timeout is no longer needed: cancelling it removes its timer at once, so frequent
        // rings do not leave a sleeping task per wait behind.
        waiter?.timer?.cancel()
        waiter?.continuation.resume()
    }

    /// Returns after a ring or after `timeout`, whichever comes first.
    func wait(upTo timeout: Duration) async {
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
            let timer = Task {
                try? await Task.sleep(for: timeout)
                let expired = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                    guard let waiter = state.waiter, waiter.id == id else { return nil }
                    state.waiter = nil
                    return waiter.continuation
                }
                expired?.resume()
            }
            // Hand the timer to the waiter unless a ring already took it (then stop the timer).
            let stillWaiting = state.withLock { state -> Bool in
                guard state.waiter?.id == id else { return false }
                state.waiter?.timer = timer
                return true
            }
            if !stillWaiting { timer.cancel() }
        }
    }
}
