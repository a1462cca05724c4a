import Kafka

/// Committed rows a `Relay` publishes, and how their publication is recorded.
///
/// A feed is read by one relay at a time (the relay holds the feed's advisory lock), in the
/// order the feed defines, and told the outcome of every message it handed over. It decides
/// what a published row looks like in its tables: the outbox marks each row, a feed with a
/// commit-order cursor (`CommitPosition`) records how far it got.
public protocol RelayFeed: Sendable {
    /// Where a row is in the feed's order; the relay hands positions back as they were read.
    associatedtype Position: Sendable

    /// Names the feed in the relay's lock, its log lines and its metrics (`feed` label).
    var name: String { get }
    /// The schema whose rows these are (the metrics' `schema` label).
    var schema: ServiceSchema { get }
    /// The `NOTIFY` channel a commit of new rows rings.
    var channel: String { get }

    /// The relay starts publishing, as the leader or again after a failure: whatever the feed
    /// remembered of earlier reads is void; the next read starts from what is recorded.
    func restart() async

    /// Up to `limit` rows not yet recorded as published, in feed order, leaving out the
    /// `inFlight` ones (read earlier, not settled yet; oldest first).
    func read(inFlight: [Position], limit: Int) async throws -> [(position: Position, message: KafkaProducerMessage)]

    /// Records the outcome of one batch, in read order: the relay calls this for each batch in
    /// the order it read them, only after every message of the batch has its outcome.
    func settle(_ positions: [Position], outcomes: [Result<Void, KafkaError>]) async throws

    /// How many rows wait, and how long the oldest has waited (seconds; 0 when none).
    func backlog() async throws -> (messages: Int64, oldestAgeSeconds: Double)

    /// Deletes what the feed keeps about rows published more than `retention` ago; returns how
    /// many rows one call deleted (the relay calls again while a call deletes `pruneLimit`).
    func prune(olderThan retention: Duration) async throws -> Int
}

extension RelayFeed {
    /// The most rows one `prune` call deletes.
    public static var pruneLimit: Int { 5000 }
}
