import NIOCore
import PostgresNIO

/// Whether a failure says the database was unreachable or had to abort the work, rather than that
/// the work itself is wrong. Transient failures are retried with backoff and never dead-letter an
/// event: a PostgreSQL restart must not turn good events into poison.
public enum TransientFailure {
    public static func isTransient(_ error: any Error) -> Bool {
        if let wrapped = error as? PostgresTransactionError {
            let causes: [any Error] = [wrapped.beginError, wrapped.closureError, wrapped.commitError, wrapped.rollbackError].compactMap { $0 }
            return causes.contains(where: isTransient)
        }
        if error is ChannelError || error is IOError || error is DeadlineExceeded { return true }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .queryCancelled:
            return true
        case .server:
            // Connection exceptions, rollbacks the server chose (serialization, deadlock), lack of
            // resources, operator intervention (shutdown, starting up) and system errors.
            let state = error.serverInfo?[.sqlState] ?? ""
            return ["08", "40", "53", "57", "58"].contains(String(state.prefix(2)))
        default:
            return false
        }
    }

    /// The pause before retry `attempt` (1-based): 100 ms doubling to at most 5 s.
    public static func backoff(attempt: Int) -> Duration {
        .milliseconds(min(100 << min(attempt - 1, 6), 5_000))
    }
}
