import Synchronization

/// A database call took longer than its deadline and was abandoned.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public let limit: Duration
    public var description: String { "no answer from the database within \(limit)" }
}

/// Runs `body` and waits for it at most `limit` (give or take `DeadlineWatch.resolution`).
///
/// Unlike a task-group timeout, this stops waiting even when `body` ignores cancellation (a
/// connection left half-open by a database crash, a pool lease that is never granted): `body`
/// is cancelled and abandoned, and `DeadlineExceeded` is thrown. Callers must therefore only
/// abandon work that is safe to run again, such as an inbox transaction, whose event ids make a
/// late commit of the abandoned attempt and the retry apply each event once.
///
/// Cost: one task for `body`; the deadline itself is an entry in the process's one
/// `DeadlineWatch`, not a sleeping task and timer per call (this wraps every database
/// statement or transaction on the hot paths).
public func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let call = AbandonableCall<T>()
    let watch = DeadlineWatch.shared
    let entry = watch.add(expiresAt: .now + limit) {
        call.cancelWork()
        call.settle(.failure(DeadlineExceeded(limit: limit)))
    }
    call.startWork(
        Task {
            let outcome: Result<T, any Error>
            do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
            watch.remove(entry)
            call.settle(outcome)
        })
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { call.attach($0) }
    } onCancel: {
        call.cancelWork()
    }
}

/// One `withDeadline` call: the first outcome (the body's or the deadline's) wins and is handed
/// to the caller's continuation, whichever of the two is there first.
private final class AbandonableCall<T: Sendable>: Sendable {
    private struct State {
        var settled = false
        var outcome: Result<T, any Error>?
        var continuation: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var cancelRequested = false
    }

    private let state = Mutex(State())

    /// Records the first outcome; later ones are dropped.
    func settle(_ outcome: Result<T, any Error>) {
        let waiting = state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard !state.settled else { return nil }
            state.settled = true
            guard let continuation = state.continuation else {
                state.outcome = outcome
                return nil
            }
            state.continuation = nil
            return continuation
        }
        waiting?.resume(with: outcome)
    }

    /// Hands over the caller's continuation; resumes it at once if the outcome is known.
    func attach(_ continuation: CheckedContinuation<T, any Error>) {
        let ready = state.withLock { state -> Result<T, any Error>? in
            guard let outcome = state.outcome else {
                state.continuation = continuation
                return nil
            }
            state.outcome = nil
            return outcome
        }
        if let ready { continuation.resume(with: ready) }
    }

    func startWork(_ task: Task<Void, Never>) {
        let cancelNow = state.withLock { state -> Bool in
            state.work = task
            return state.cancelRequested
        }
        if cancelNow { task.cancel() }
    }

    func cancelWork() {
        let task = state.withLock { state -> Task<Void, Never>? in
            state.cancelRequested = true
            return state.work
        }
        task?.cancel()
    }
}

extension Duration {
    /// The whole duration in nanoseconds (sub-nanosecond parts dropped); for metrics and
    /// monotonic-clock arithmetic. Durations beyond about 292 years overflow.
    public var totalNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
