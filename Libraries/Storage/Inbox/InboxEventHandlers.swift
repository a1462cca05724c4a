import Contracts
import Kafka
import PostgresNIO

/// The event types a consumer handles, each with its typed handler: the typed form of an
/// `InboxBatchHandler`.
///
/// Guarantees of the batch handler it builds (`batchHandler`):
/// - Each event goes to the handler registered for its CloudEvents `type`, decoded into
///   `EventEnvelope<Payload>`, in batch order: consecutive events of one type are handed over
///   together, so a handler can write them with one statement.
/// - An event whose type nobody registered is `ignored` (the inbox records its type).
/// - An event of a registered type that does not decode throws `UndecodableEvent`, so the inbox
///   retries the batch event by event and dead-letters that event with the decoding error.
public struct InboxEventHandlers: Sendable {
    typealias Run = @Sendable ([InboxMetadata], PostgresConnection) async throws -> [InboxOutcome]
    private var runs: [String: Run] = [:]

    public init() {}

    /// The registered CloudEvents types, sorted.
    public var eventTypes: [String] { runs.keys.sorted() }

    /// Handles `Payload`'s events a run at a time: `handle` gets consecutive events of this
    /// type, in order, and returns one outcome per event in the same order.
    public mutating func on<Payload: EventPayload>(
        _: Payload.Type,
        batch handle: @escaping @Sendable ([InboxEvent<Payload>], PostgresConnection) async throws -> [InboxOutcome]
    ) {
        precondition(runs[Payload.eventType] == nil, "\(Payload.eventType) is registered twice")
        runs[Payload.eventType] = { metadata, connection in
            let events = try metadata.map { item throws(UndecodableEvent) in try InboxEvent<Payload>(decoding: item) }
            return try await handle(events, connection)
        }
    }

    /// Handles `Payload`'s events one at a time, in order.
    public mutating func on<Payload: EventPayload>(
        _ type: Payload.Type,
        each handle: @escaping @Sendable (InboxEvent<Payload>, PostgresConnection) async throws -> InboxOutcome
    ) {
        on(
            type,
            batch: { events, connection in
                var outcomes: [InboxOutcome] = []
                outcomes.reserveCapacity(events.count)
                for event in events { outcomes.append(try await handle(event, connection)) }
                return outcomes
            })
    }

    /// The untyped form the inbox runs.
    public var batchHandler: InboxBatchHandler {
        let runs = self.runs
        return { messages, connection in
            let metadata = messages.map(InboxMetadata.init(of:))
            var outcomes: [InboxOutcome] = []
            outcomes.reserveCapacity(metadata.count)
            var start = 0
            while start < metadata.count {
                let type = metadata[start].eventType
                var end = start + 1
                while end < metadata.count, metadata[end].eventType == type { end += 1 }
                if let type, let run = runs[type] {
                    let part = try await run(Array(metadata[start..<end]), connection)
                    guard part.count == end - start else { throw InboxOutcomeCountMismatch(events: end - start, outcomes: part.count) }
                    outcomes += part
                } else {
                    outcomes += repeatElement(.ignored, count: end - start)
                }
                start = end
            }
            return outcomes
        }
    }
}
