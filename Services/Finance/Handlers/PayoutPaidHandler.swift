import Contracts
import Foundation
import Logging
import Metrics

/// Records each `payout.paid` and posts it (bank against clearing) once, inside the consumer
/// inbox's transaction. A repeat under a new event id is `ignored`; the same payout id with
/// other money is refused and listed as a conflict.
struct PayoutPaidHandler: Sendable {
    let logger: Logger
    let now: @Sendable () -> Date

    func handle(_ event: InboxEvent<PayoutPaid>, store: some FinanceStore) async throws -> InboxOutcome {
        let paid = event.data
        let cause = Postings.Cause(eventID: event.envelope.id, eventType: PayoutPaid.eventType, occurredAt: paid.origin.occurredAt)
        let recorded = try await store.transaction(key: PayoutBook.key(provider: paid.origin.provider, payoutID: paid.payoutID))
        switch PayoutBook.decide(paid, cause: cause, recorded: recorded) {
        case .repeated:
            return .ignored
        case .refuse(let conflict):
            try await store.recordConflict(conflict)
            Counter(label: "finance_conflicts_total", dimensions: [("code", conflict.code.rawValue)]).increment()
            logger.warning("ledger refused a payout", metadata: ["event_id": "\(event.envelope.id)", "key": "\(conflict.key)", "field": "\(conflict.field)"])
            return .applied
        case .record(var payout, let proposal):
            let time = now()
            let posted = try await store.post(proposal, postedAt: LedgerSeal.truncated(time))
            payout.transactionID = posted.id
            try await store.insert(payout)
            try await store.enqueue(
                try LedgerPublication.message(posted, tenant: event.tenant, correlationID: event.envelope.correlationid, causationID: event.envelope.id, now: time))
            Counter(label: "finance_transactions_posted_total", dimensions: [("kind", proposal.kind.rawValue)]).increment()
            return .applied
        }
    }
}
