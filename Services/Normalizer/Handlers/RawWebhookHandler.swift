import Contracts
import Foundation
import Logging
import Storage

/// Normalizes raw webhook events inside the consumer inbox's transaction: for each org's part of
/// a batch it loads the fence's answers, decides the rows (`RawWebhookDecision`) and saves them
/// with the outbox messages, so canonical events, outcome events, lineage and outcome rows
/// commit together or not at all.
///
/// - A batch is written with one statement per table and org, however many events it holds;
///   only the ordering fence runs per fenced event, in batch order.
/// - Normalizing a webhook again (a replay of the raw topic or of the inbox) reproduces the
///   same events, and the outbox skips ids it already holds: none is published twice.
/// - A payload the mapping cannot read gets a `failed` outcome and a dead letter; the
///   partition moves on. An event of another type never reaches this handler.
struct RawWebhookHandler: Sendable {
    let logger: Logger
    let normalizer = Normalizer()

    init(logger: Logger) { self.logger = logger }

    /// Applies `events` (new raw events, in partition order) and returns their outcomes in order.
    func handle(_ events: [InboxEvent<WebhookReceived>], store: some NormalizationStore) async throws -> [InboxOutcome] {
        var outcomes = [InboxOutcome](repeating: .ignored, count: events.count)
        let now = Date()
        // Row-level security scopes writes to one org at a time: one group per org, each in
        // arrival order (events of one object always belong to one org).
        for group in try events.indices.groupedByTenant({ events[$0].tenant.rawValue }) {
            try await store.use(tenant: group.tenant)
            var decided: [String: Disposition] = [:]
            var decisions: [RawWebhookDecision] = []
            for index in group.elements {
                let event = events[index]
                let normalization: Result<Normalization, MalformedPayload>
                do { normalization = .success(try normalizer.normalize(event.data)) } catch { normalization = .failure(error) }
                var dispositions: [String: Disposition] = [:]
                if case .success(let normalized) = normalization {
                    for (id, object) in RawWebhookDecision.fencedObjects(of: event.data, normalized) {
                        dispositions[id] = try await store.fence(object, canonicalID: id, decided: &decided)
                    }
                }
                let decision = try RawWebhookDecision(
                    event, normalization: normalization, dispositions: dispositions, now: now,
                    group: TallyService.normalizer.consumerGroup)
                if case .failure(let malformed) = normalization {
                    logger.warning("raw webhook could not be normalized", metadata: ["inbox_id": "\(event.data.inboxID)", "reason": "\(malformed.description)"])
                }
                outcomes[index] = decision.inboxOutcome
                decisions.append(decision)
            }
            try await store.save(decisions, tenant: group.tenant)
        }
        return outcomes
    }
}
