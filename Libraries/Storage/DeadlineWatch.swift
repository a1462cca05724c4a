import Synchronization

/// The process's timeouts (`withDeadline`, `Doorbell.wait`), expired by one task that runs only
/// while some are pending and looks every `resolution`. A timeout therefore fires between its
/// instant and one resolution later; callers use limits of a second or more, where that is
/// immaterial. This replaces a sleeping task and a dispatch timer per database call or wait
/// (timers were about 7% of the gateway's CPU samples under load; about 4% remain, from
/// postgres-nio's connection pool).
final class DeadlineWatch: Sendable {
    static let shared = DeadlineWatch()
    static let resolution: Duration = .milliseconds(100)

    struct Entry: Hashable, Sendable {
        fileprivate let id: UInt64
    }

    private struct Pending {
        let expiresAt: ContinuousClock.Instant
        let expire: @Sendable () -> Void
    }

    private struct State {
        var pending: [UInt64: Pending] = [:]
        var nextID: UInt64 = 0
        var watching = false
    }

    private let state = Mutex(State())

    /// Calls `expire` once `expiresAt` has passed, unless the entry is removed first.
    func add(expiresAt: ContinuousClock.Instant, expire: @escaping @Sendable () -> Void) -> Entry {
        let (entry, startWatching) = state.withLock { state -> (Entry, Bool) in
            state.nextID &+= 1
            state.pending[state.nextID] = Pending(expiresAt: expiresAt, expire: expire)
            let start = !state.watching
            state.watching = true
            return (Entry(id: state.nextID), start)
        }
        if startWatching { Task.detached { await self.watch() } }
        return entry
    }

    /// Whether the watcher task is running (for tests).
    var isWatching: Bool { state.withLock { $0.watching } }

    func remove(_ entry: Entry) {
        state.withLock { _ = $0.pending.removeValue(forKey: entry.id) }
    }

    /// Expires what is due every `resolution`; stops when nothing is pending.
    private func watch() async {
        while true {
            try? await Task.sleep(for: Self.resolution)
            let now = ContinuousClock.now
            let (due, keepWatching) = state.withLock { state -> ([Pending], Bool) in
                let dueIDs = state.pending.filter { $0.value.expiresAt <= now }.map(\.key)
                let due = dueIDs.compactMap { state.pending.removeValue(forKey: $0) }
                if state.pending.isEmpty { state.watching = false }
                return (due, state.watching)
            }
            for pending in due { pending.expire() }
            if !keepWatching { return }
        }
    }
}
