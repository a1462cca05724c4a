import Contracts
import Foundation
import Logging
import Metrics

/// Applies the canonical subscription events (`tally.subscription.*.v1`) inside the consumer
/// inbox's transaction: each becomes a `ProviderFact` with the plan its price maps to now, and
/// goes through `SubscriptionUpdates`. An event not newer than the subscription's last provider
/// fact is `ignored`: a late event never rolls a subscription back.
struct SubscriptionEventsHandler: Sendable {
    let logger: Logger
    let now: @Sendable () -> Date

    func handle<Kind>(_ event: InboxEvent<SubscriptionEvent<Kind>>, as kind: ProviderFact.Kind, store: some BillingStore) async throws -> InboxOutcome {
        let data = event.data
        let provider = data.origin.provider
        let mapped = try await store.mappedPlan(provider: provider, providerPlan: data.subscription.planCode)
        let fact = ProviderFact(
            kind: kind, state: data.subscription, provider: provider, occurredAt: data.origin.occurredAt, reason: data.reason, eventID: event.envelope.id,
            mappedPlan: mapped)
        let reference = SubscriptionReference(provider: provider, subscriptionID: data.subscription.subscriptionID)
        let cause = ChangeCause(eventID: event.envelope.id, actor: nil, correlationID: event.envelope.correlationid, causationID: event.envelope.id)
        switch try await SubscriptionUpdates.apply(.provider(fact: fact), to: reference, cause: cause, tenant: event.tenant, store: store, now: now()) {
        case .success(let applied):
            if applied.subscription.projection.plan == nil {
                Counter(label: "billing_unmapped_subscription_events_total", dimensions: [("provider", provider.rawValue)]).increment()
            }
            return .applied
        case .failure(.stale):
            Counter(label: "billing_stale_subscription_events_total", dimensions: [("provider", provider.rawValue)]).increment()
            logger.info("subscription event older than the applied state", metadata: ["event_id": "\(event.envelope.id)", "type": "\(event.envelope.type)"])
            return .ignored
        case .failure(let refusal):
            // A provider fact is only ever refused as stale; anything else is a bug worth seeing.
            logger.error("subscription event refused", metadata: ["event_id": "\(event.envelope.id)", "refusal": "\(refusal)"])
            return .ignored
        }
    }
}
