import Contracts
import Foundation
import Storage
import Synchronization
import TallyTestSupport
import Testing

@testable import Normalizer

/// What normalizing a raw webhook writes, from the pure decision up: the decision as a plain
/// function of its inputs, then the handler over an in-memory store (no database).
@Suite("Raw webhook decisions")
struct RawWebhookDecisionTests {
    static func event(
        _ fixture: String, inboxID: String = "11111111-1111-4111-8111-111111111111", replayID: String? = nil,
        body: String? = nil
    ) throws -> InboxEvent<WebhookReceived> {
        var raw = try MappingGoldenTests.raw(fixture)
        raw.inboxID = inboxID
        raw.replayID = replayID
        if let body { raw.bodyBase64 = Data(body.utf8).base64EncodedString() }
        return try TestEvents.inboxEvent(
            try TestEvents.fixture(WebhookReceived.self) { event in
                event.id = replayID.map { "\($0)-\(inboxID)" } ?? inboxID
                event.data = raw
                event.subject = raw.partitionKey
            })
    }

    static func decide(_ event: InboxEvent<WebhookReceived>, dispositions: [String: Disposition] = [:]) throws -> RawWebhookDecision {
        let normalization: Result<Normalization, MalformedPayload>
        do { normalization = .success(try Normalizer().normalize(event.data)) } catch { normalization = .failure(error) }
        return try RawWebhookDecision(event, normalization: normalization, dispositions: dispositions, now: Date(timeIntervalSince1970: 1_795_000_000), group: "tally.normalizer")
    }

    @Test func aMappedPaymentEmitsItsCanonicalEventAndAProcessedOutcome() throws {
        let event = try Self.event("stripe/payment_intent.succeeded.json")
        let decision = try Self.decide(event)
        let canonicalID = CanonicalID.derive(inboxID: event.data.inboxID, position: 0)
        #expect(decision.outbox.map(\.topic) == [TallyTopic.payments.name, TallyTopic.webhookOutcomes.name])
        #expect(decision.outbox.first?.eventID == canonicalID)
        #expect(
            decision.lineage == [
                .init(
                    canonicalEventID: canonicalID, inboxID: event.data.inboxID, position: 0, eventType: PaymentCaptured.eventType,
                    provider: "stripe", disposition: .emitted)
            ])
        #expect(decision.outcome.status == .processed && decision.inboxOutcome == .applied)
        #expect(try Self.decide(event) == decision, "deciding again gives the same rows and ids")
    }

    @Test func aReplayHasItsOwnOutcomeAndTheSameCanonicalEvent() throws {
        let original = try Self.decide(try Self.event("stripe/payment_intent.succeeded.json"))
        let replay = try Self.decide(try Self.event("stripe/payment_intent.succeeded.json", replayID: "rpl_1"))
        #expect(replay.outbox.first?.eventID == original.outbox.first?.eventID)
        #expect(replay.outbox.last?.eventID != original.outbox.last?.eventID)
    }

    @Test func aStateChangeThatLostTheFenceIsRecordedButNotEmitted() throws {
        let event = try Self.event("stripe/customer.subscription.updated.json")
        let canonicalID = CanonicalID.derive(inboxID: event.data.inboxID, position: 0)
        let decision = try Self.decide(event, dispositions: [canonicalID: .superseded])
        #expect(decision.outbox.map(\.topic) == [TallyTopic.webhookOutcomes.name])
        #expect(decision.lineage.map(\.disposition) == [.superseded])
        #expect(decision.outcome.status == .superseded && decision.inboxOutcome == .ignored)
    }

    @Test func anUnreadablePayloadFailsAndIsDeadLetteredUnchanged() throws {
        let event = try Self.event("stripe/payment_intent.succeeded.json", body: #"{"id":"evt_x","type":"payment_intent.succeeded","created":1,"data":{}}"#)
        let decision = try Self.decide(event)
        #expect(decision.outcome.status == .failed)
        let dead = try #require(decision.outbox.first)
        #expect(dead.topic == TallyService.normalizer.deadLetterTopic.name)
        #expect(dead.payload == event.metadata.value)
        #expect(DeadLetterHeaders(fields: dead.headers)?.reason == decision.outcome.reason)
    }

    @Test func anUnmappedTypeIsIgnoredWithWhy() throws {
        let decision = try Self.decide(
            try Self.event(
                "stripe/customer.subscription.updated.json",
                body: #"{"id":"evt_b","type":"balance.available","created":1,"data":{"object":{}}}"#))
        #expect(decision.outcome.status == .ignored)
        #expect(decision.outcome.reason == "stripe event type balance.available is not mapped")
        #expect(decision.lineage.isEmpty)
    }

    /// The fence and the rows in memory, as the PostgreSQL store keeps them.
    final class InMemoryNormalization: NormalizationStore, Sendable {
        struct State {
            var versions: [String: Date] = [:]
            var lineage: [String: Disposition] = [:]
            var saved: [RawWebhookDecision] = []
        }
        let state = Mutex(State())

        func use(tenant: TenantID) async throws {}

        func fence(_ object: FencedObject, canonicalID: String, decided: inout [String: Disposition]) async throws -> Disposition {
            if let earlier = decided[canonicalID] { return earlier }
            let disposition = state.withLock { state -> Disposition in
                if let earlier = state.lineage[canonicalID] { return earlier }
                let key = "\(object.provider.rawValue):\(object.kind.rawValue):\(object.objectID)"
                guard let stored = state.versions[key], object.version < stored else {
                    state.versions[key] = object.version
                    return .emitted
                }
                return .superseded
            }
            decided[canonicalID] = disposition
            return disposition
        }

        func save(_ decisions: [RawWebhookDecision], tenant: TenantID) async throws {
            state.withLock { state in
                for decision in decisions {
                    for row in decision.lineage where state.lineage[row.canonicalEventID] == nil { state.lineage[row.canonicalEventID] = row.disposition }
                    state.saved.append(decision)
                }
            }
        }
    }

    @Test func theHandlerFencesLateStateChangesAndKeepsAReplaysFirstDecision() async throws {
        let store = InMemoryNormalization()
        let handler = RawWebhookHandler(logger: TestDatabase.logger)
        let lifecycle = RawWebhookHandlerTests.lifecycle
        let ids = lifecycle.indices.map { "cccccccc-0000-4000-8000-00000000000\($0)" }
        // created, paused, updated (late), then a replay of the late update.
        let events = try [0, 2, 1].map { try Self.event(lifecycle[$0], inboxID: ids[$0]) } + [try Self.event(lifecycle[1], inboxID: ids[1], replayID: "rpl_2")]
        let outcomes = try await handler.handle(events, store: store)
        #expect(outcomes == [.applied, .applied, .ignored, .ignored])
        let statuses = store.state.withLock { $0.saved.map(\.outcome.status) }
        #expect(statuses == [.processed, .processed, .superseded, .superseded])
    }
}
