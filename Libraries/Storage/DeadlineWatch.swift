import Synchronization

/// The process's timeouts (`withDeadline`, `Doorbell.wait`), expired by one task that sleeps
/// until the earliest pending one and runs only while some are pending. A timeout fires at its
/// instant or up to `resolution` later (expiries that close together are taken in one wake-up).
/// This replaces a sleeping task and a dispatch timer per database call or wait (timers were
/// about 7% of the gateway's CPU samples under load); and it wakes only when a timeout is due,
/// not on a fixed tick, so an idle process with a few long waits hardly wakes at all.
///
/// A new timeout earlier than the watcher's next wake-up replaces the watcher; removing the
/// last pending timeout stops it.
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
        /// The running watcher, which generation it is, and when it will next look.
        var watcher: Task<Void, Never>?
        var generation: UInt64 = 0
        var wakeAt: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    /// Calls `expire` once `expiresAt` has passed, unless the entry is removed first.
    func add(expiresAt: ContinuousClock.Instant, expire: @escaping @Sendable () -> Void) -> Entry {
        state.withLock { state -> Entry in
            state.nextID &+= 1
            state.pending[state.nextID] = Pending(expiresAt: expiresAt, expire: expire)
            if state.wakeAt.map({ expiresAt < $0 }) ?? true { startWatcher(&state, wakeAt: expiresAt) }
            return Entry(id: state.nextID)
        }
    }

    /// Whether the watcher task is running (for tests).
    var isWatching: Bool { state.withLock { $0.watcher != nil } }

    func remove(_ entry: Entry) {
        state.withLock { state in
            _ = state.pending.removeValue(forKey: entry.id)
            if state.pending.isEmpty { stopWatcher(&state) }
        }
    }

    private func startWatcher(_ state: inout State, wakeAt: ContinuousClock.Instant) {
        state.watcher?.cancel()
        state.generation &+= 1
        state.wakeAt = wakeAt
        let generation = state.generation
        state.watcher = Task.detached { await self.watch(generation: generation, firstWake: wakeAt) }
    }

    private func stopWatcher(_ state: inout State) {
        state.watcher?.cancel()
        state.watcher = nil
        state.wakeAt = nil
        state.generation &+= 1
    }

    /// Sleeps until the next wake-up, expires what is due, and plans the next wake-up no sooner
    /// than one resolution ahead (so expiries close together share a wake-up and none fires
    /// early); returns when replaced, stopped or idle.
    private func watch(generation: UInt64, firstWake: ContinuousClock.Instant) async {
        var wake = firstWake
        while true {
            do {
                try await Task.sleep(until: wake, clock: .continuous)
            } catch {
                return  // replaced or stopped
            }
            let now = ContinuousClock.now
            let due = state.withLock { state -> [Pending]? in
                guard state.generation == generation else { return nil }
                let dueIDs = state.pending.filter { $0.value.expiresAt <= now }.map(\.key)
                let due = dueIDs.compactMap { state.pending.removeValue(forKey: $0) }
                if let next = state.pending.values.map(\.expiresAt).min() {
                    state.wakeAt = max(next, now + Self.resolution)
                } else {
                    state.watcher = nil
                    state.wakeAt = nil
                }
                return due
            }
            guard let due else { return }
            for pending in due { pending.expire() }
            guard let next = state.withLock({ $0.generation == generation ? $0.wakeAt : nil }) else { return }
            wake = next
        }
    }
}
