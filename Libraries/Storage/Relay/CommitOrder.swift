import Logging
import PostgresNIO
import Synchronization

/// Where a row is in commit order: the id of the transaction that wrote it (`xid8`, as text),
/// then the row's own id (as text; the feed names its SQL type).
public struct CommitPosition: Hashable, Sendable {
    public var transaction: String
    public var row: String

    public init(transaction: String, row: String) {
        self.transaction = transaction
        self.row = row
    }
}

/// How far a commit-ordered feed has published, kept in an append-only table of the feed's
/// schema (`id bigserial, up_to_txid xid8, up_to_id <row type>, messages int, published_at`):
/// each acknowledged batch appends its last position; the latest entry is the position.
///
/// A commit-ordered feed is a table whose rows carry `txid xid8 DEFAULT pg_current_xact_id()`
/// and are read in (txid, id) order, after the position and only below the schema's
/// `feed_horizon()` (platform migration 11), taken just before the read: every transaction below
/// it that could write the schema has ended, so no row can commit behind a position already
/// read, while other services' long transactions do not hold the feed back. Nothing is written
/// per row to publish it.
///
/// Guarantees:
/// - Progress is recorded only as an unbroken prefix of what was read: after a batch with a
///   failed message nothing later is recorded until `restart`, and the next read starts again
///   at the failure. Rows after it may be published twice, never skipped.
/// - The entry read at the start of a read is the newest one (one relay per feed writes them).
public final class CommitOrderProgress: Sendable {
    let client: PostgresClient
    let table: String
    let rowType: String
    let logger: Logger

    private struct State {
        /// The recorded position, once read since the last restart.
        var recorded: CommitPosition?
        /// A batch failed since the last restart: later batches are not recorded.
        var failedSinceRestart = false
    }
    private let state = Mutex(State())

    /// `table` is the schema-qualified publication table; `rowType` the SQL type of its
    /// `up_to_id` (`uuid`, `int8`). Both are fixed names from code, never input.
    public init(client: PostgresClient, table: String, rowType: String, logger: Logger) {
        self.client = client
        self.table = table
        self.rowType = rowType
        self.logger = logger
    }

    public func restart() {
        state.withLock { $0 = State() }
    }

    /// Where the next read starts: after the last row in flight, or else after the recorded
    /// position (read from the table once per restart).
    public func readStart(inFlight: [CommitPosition]) async throws -> CommitPosition {
        if let last = inFlight.last { return last }
        if let recorded = state.withLock({ $0.recorded }) { return recorded }
        let rows = try await client.query(
            "SELECT up_to_txid::text, up_to_id::text FROM \(unescaped: table) ORDER BY id DESC LIMIT 1", logger: logger)
        for try await (transaction, row) in rows.decode((String, String).self) {
            let recorded = CommitPosition(transaction: transaction, row: row)
            state.withLock { $0.recorded = recorded }
            return recorded
        }
        throw NoPublicationRecord(table: table)
    }

    /// Records a batch's outcomes (in read order); returns how many rows it recorded.
    @discardableResult
    public func settle<Outcome>(_ positions: [CommitPosition], outcomes: [Result<Outcome, some Error>]) async throws -> Int {
        guard !state.withLock({ $0.failedSinceRestart }) else { return 0 }
        var delivered = 0
        for outcome in outcomes {
            guard case .success = outcome else { break }
            delivered += 1
        }
        if delivered < outcomes.count { state.withLock { $0.failedSinceRestart = true } }
        guard delivered > 0 else { return 0 }
        let upTo = positions[delivered - 1]
        try await client.query(
            """
            INSERT INTO \(unescaped: table) (up_to_txid, up_to_id, messages)
            VALUES (\(upTo.transaction)::xid8, \(upTo.row)::\(unescaped: rowType), \(delivered))
            """, logger: logger)
        state.withLock { $0.recorded = upTo }
        return delivered
    }

    /// Deletes entries older than `age` among the `limit` oldest, never the newest (it is the
    /// position); returns how many it deleted.
    public func prune(olderThan age: Duration, limit: Int) async throws -> Int {
        let rows = try await client.query(
            """
            WITH head AS (SELECT id FROM \(unescaped: table) ORDER BY id LIMIT \(limit)),
                 deleted AS (
                     DELETE FROM \(unescaped: table) r USING head
                     WHERE r.id = head.id AND r.published_at < now() - \(age.components.seconds)::int8 * interval '1 second'
                       AND r.id < (SELECT max(id) FROM \(unescaped: table))
                     RETURNING 1
                 )
            SELECT count(*)::int FROM deleted
            """, logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }
}

/// A publication table holds no position: its migration did not run, or its start entry was
/// deleted by hand. The relay cannot tell what is published, so it stops and says so.
public struct NoPublicationRecord: Error, CustomStringConvertible {
    public let table: String
    public var description: String { "\(table) holds no position; the relay cannot tell what is published" }
}
