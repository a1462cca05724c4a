import Contracts
import Foundation
import Logging
import Storage

/// Applies the normalizer's outcome events to the inbox: `processed`, `ignored`, `failed` or
/// `superseded`, with the reason. Runs inside the consumer inbox's transaction, so each outcome is
/// applied once.
///
/// A batch costs one store call (one `UPDATE`) per org, whatever its size. Only a row still
/// awaiting its outcome takes one: the first outcome decides, and a later one for the same row
/// (in the same batch or after) is recorded as ignored.
struct WebhookOutcomeHandler: Sendable {
    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func handle(_ events: [InboxEvent<WebhookOutcome>], store: some WebhookOutcomeStore) async throws -> [InboxOutcome] {
        let assignment = OutcomeAssignment(events.map { ($0.tenant, $0.data) })
        for inboxID in assignment.unaddressed {
            logger.warning("webhook outcome names no inbox row (not a UUID); ignored", metadata: ["inbox_id": "\(inboxID)"])
        }
        var outcomes = [InboxOutcome](repeating: .ignored, count: events.count)
        for (tenant, updates) in assignment.byTenant {
            let settled = try await store.settle(updates, tenant: tenant)
            for update in updates where settled.contains(update.inboxID) { outcomes[update.position] = .applied }
        }
        return outcomes
    }
}
