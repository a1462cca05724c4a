import Synchronization

/// A database call took longer than its deadline and was abandoned.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public let limit: Duration
    public var description: String { "no answer from the database within \(limit)" }
}

/// Runs `body` and waits for it at most `limit`.
///
/// Unlike a task-group timeout, this stops waiting even when `body` ignores cancellation (a
/// connection left half-open by a database crash, a pool lease that is never granted): `body`
/// is cancelled and abandoned, and `DeadlineExceeded` is thrown. Callers must therefore only
/// abandon work that is safe to run again, such as an inbox transaction, whose event ids make a
/// late commit of the abandoned attempt and the retry apply each event once.
public func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let work = Task { try await body() }
    let settled = FirstClaim()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let timer = Task {
                try? await Task.sleep(for: limit)
                guard !Task.isCancelled, settled.claim() else { return }
                work.cancel()
                continuation.resume(throwing: DeadlineExceeded(limit: limit))
            }
            Task {
                let result = await work.result
                timer.cancel()
                if settled.claim() { continuation.resume(with: result) }
            }
        }
    } onCancel: {
        work.cancel()
    }
}

/// Lets exactly one of several racing parties resume a continuation.
private final class FirstClaim: Sendable {
    private let claimed = Mutex(false)

    /// True for the first caller only.
    func claim() -> Bool {
        claimed.withLock { claimed in
            defer { claimed = true }
            return !claimed
        }
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
