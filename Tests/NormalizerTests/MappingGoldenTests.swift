import Contracts
import Foundation
import Testing

@testable import Normalizer

/// Every provider fixture under `contracts/providers/` maps to the canonical events in its golden
/// file under `Golden/` (byte for byte, canonical JSON). Set `TALLY_UPDATE_GOLDEN=1` to rewrite the
/// golden files after a deliberate change, then review the diff.
@Suite("Provider payloads map to canonical events")
struct MappingGoldenTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let providers = repository.appendingPathComponent("contracts/providers")
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static var fixtures: [String] {
        ["stripe", "paddle", "hotmart", "internal"].flatMap { provider in
            ((try? FileManager.default.contentsOfDirectory(atPath: providers.appendingPathComponent(provider).path)) ?? [])
                .filter { $0.hasSuffix(".json") }.sorted().map { "\(provider)/\($0)" }
        }
    }

    /// The raw-webhook event the gateway would publish for a stored fixture.
    static func raw(_ fixture: String) throws -> WebhookReceived {
        let body = try Data(contentsOf: providers.appendingPathComponent(fixture))
        let provider = WebhookProvider(rawValue: String(fixture.split(separator: "/")[0]))!
        return WebhookReceived(
            inboxID: "0193f3a2-7c1e-7d4b-9a55-1f2e3d4c5b6a", sourceID: "src_fixture", provider: provider,
            providerEventID: "from-fixture", providerEventType: "from-fixture", receivedAt: RFC3339.parse("2026-11-22T08:00:00.123Z")!,
            trust: provider == .hotmart ? .low : .verified, contentType: "application/json",
            bodyBase64: body.base64EncodedString(), bodySHA256: "not-checked-here"
        )
    }

    /// The normalization as canonical JSON: the events with their derived ids, or why it was ignored.
    static func render(_ normalization: Normalization, inboxID: String) throws -> String {
        struct AnyPayload: Encodable {
            let payload: any EventPayload
            func encode(to encoder: any Encoder) throws { try payload.encode(to: encoder) }
        }
        struct Rendered: Encodable {
            struct Event: Encodable {
                let id: String
                let type: String
                let data: AnyPayload
            }
            let events: [Event]?
            let ignored: String?
        }
        let rendered: Rendered =
            switch normalization {
            case .ignored(let reason): Rendered(events: nil, ignored: reason)
            case .events(let events):
                Rendered(
                    events: events.enumerated().map { position, event in
                        Rendered.Event(id: CanonicalID.derive(inboxID: inboxID, position: position), type: event.eventType, data: AnyPayload(payload: event.payload))
                    }, ignored: nil)
            }
        return String(decoding: try CanonicalJSON.encode(rendered), as: UTF8.self) + "\n"
    }

    @Test(arguments: fixtures)
    func fixtureMapsToItsGoldenEvents(_ fixture: String) throws {
        let raw = try Self.raw(fixture)
        let rendered = try Self.render(try Normalizer().normalize(raw), inboxID: raw.inboxID)
        let goldenFile = Self.golden.appendingPathComponent(fixture)
        if ProcessInfo.processInfo.environment["TALLY_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: goldenFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            try rendered.write(to: goldenFile, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: goldenFile, encoding: .utf8)
        #expect(rendered == expected)
    }

    @Test func normalizingAgainReproducesTheSameIDs() throws {
        #expect(CanonicalID.derive(inboxID: "a", position: 0) == CanonicalID.derive(inboxID: "a", position: 0))
        #expect(CanonicalID.derive(inboxID: "a", position: 0) != CanonicalID.derive(inboxID: "a", position: 1))
        #expect(CanonicalID.derive(inboxID: "a", position: 0) != CanonicalID.derive(inboxID: "b", position: 0))
        #expect(UUID(uuidString: CanonicalID.derive(inboxID: "a", position: 0)) != nil)
    }

    @Test func unreadablePayloadsAreMalformedWithTheReason() throws {
        var raw = try Self.raw("stripe/payment_intent.succeeded.json")
        raw.bodyBase64 = Data(#"{"id":"evt_1","type":"payment_intent.succeeded","created":1,"data":{"object":{"id":"pi_1","currency":"usd"}}}"#.utf8).base64EncodedString()
        #expect(throws: MalformedPayload("stripe payload lacks data.object.amount")) { try Normalizer().normalize(raw) }
        raw.bodyBase64 = Data("not json".utf8).base64EncodedString()
        #expect { try Normalizer().normalize(raw) } throws: { "\($0)".contains("not valid JSON") }
        raw.bodyBase64 = "%%%"
        #expect(throws: MalformedPayload("the raw webhook body is not valid base64")) { try Normalizer().normalize(raw) }
    }

    /// A usage report names a known provider, a metric as plans name their limits and a quantity
    /// of 0 or more; anything else is malformed, with the rule it breaks.
    @Test(arguments: [
        (#""metric": "bookings_per_month""#, #""metric": "Bookings""#, "internal usage metric 'Bookings' is not a metric name ([a-z][a-z0-9_.-]{0,63})"),
        (#""quantity": 3"#, #""quantity": -1"#, "internal usage quantity -1 is negative"),
        (#""provider": "stripe""#, #""provider": "acme""#, "internal usage subscription.provider 'acme' is not a provider"),
        (#""recorded_at": "2026-11-24T10:14:58Z""#, #""recorded_at": "yesterday""#, "internal usage recorded_at is not an RFC 3339 time: 'yesterday'"),
    ])
    func malformedUsageReportsNameTheRule(field: String, replacement: String, reason: String) throws {
        var raw = try Self.raw("internal/usage.recorded.json")
        let fixture = String(decoding: try Data(contentsOf: Self.providers.appendingPathComponent("internal/usage.recorded.json")), as: UTF8.self)
        #expect(fixture.contains(field))
        raw.bodyBase64 = Data(fixture.replacingOccurrences(of: field, with: replacement).utf8).base64EncodedString()
        #expect(throws: MalformedPayload(reason)) { try Normalizer().normalize(raw) }
    }

    @Test func decimalMoneyIsConvertedExactlyOrRefused() throws {
        let brl = try #require(CurrencyCode(rawValue: "BRL"))
        let jpy = try #require(CurrencyCode(rawValue: "JPY"))
        let kwd = try #require(CurrencyCode(rawValue: "KWD"))
        #expect(Money(major: Decimal(string: "197.00")!, currency: brl)?.amountMinor == 19700)
        #expect(Money(major: Decimal(string: "19.99")!, currency: brl)?.amountMinor == 1999)
        #expect(Money(major: Decimal(string: "1500")!, currency: jpy)?.amountMinor == 1500)
        #expect(Money(major: Decimal(string: "1.234")!, currency: kwd)?.amountMinor == 1234)
        #expect(Money(major: Decimal(string: "19.999")!, currency: brl) == nil, "never rounded silently")
        #expect(Money(major: Decimal(string: "0.5")!, currency: jpy) == nil)
    }

    /// A closed Stripe dispute is an event only when it was decided, won or lost. An inquiry that
    /// closes `warning_closed` decided nothing and is ignored with the reason; a closed dispute
    /// without a status is unreadable.
    @Test func stripeClosedDisputesAreEventsOnlyWhenDecided() throws {
        var raw = try Self.raw("stripe/charge.dispute.closed.json")
        let fixture = String(decoding: try Data(contentsOf: Self.providers.appendingPathComponent("stripe/charge.dispute.closed.json")), as: UTF8.self)
        let lost = #""status": "lost""#
        #expect(fixture.contains(lost))
        func closed(_ replacement: String) -> String {
            Data(fixture.replacingOccurrences(of: lost, with: replacement).utf8).base64EncodedString()
        }

        raw.bodyBase64 = closed(#""status": "warning_closed""#)
        let warning = try Normalizer().normalize(raw)
        #expect(warning == Normalization.ignored("stripe dispute dp_1QAbeLkdIwHu7ix2hH9iJ0kL closed as warning_closed, neither won nor lost"))

        raw.bodyBase64 = closed(#""status": "won""#)
        guard case .events(let events) = try Normalizer().normalize(raw) else { Issue.record("a won dispute is not mapped"); return }
        #expect(events.map(\.eventType) == [PaymentDisputeClosed.eventType])
        #expect((events.first?.payload as? PaymentDisputeClosed)?.outcome == DisputeOutcome.won)

        raw.bodyBase64 = closed(#""status": null"#)
        #expect(throws: MalformedPayload("stripe payload lacks data.object.status")) { try Normalizer().normalize(raw) }
    }

    /// What a Stripe `customer.subscription.updated` means depends on the new status and on which
    /// fields changed (`previous_attributes`).
    @Test(arguments: [
        (#""status":"past_due","pause_collection":null"#, #"{"status":"active"}"#, "tally.subscription.past_due.v1"),
        (#""status":"active","pause_collection":null"#, #"{"status":"past_due"}"#, "tally.subscription.activated.v1"),
        (#""status":"active","pause_collection":null"#, #"{"status":"trialing"}"#, "tally.subscription.activated.v1"),
        (#""status":"active","pause_collection":null"#, #"{"status":"paused"}"#, "tally.subscription.resumed.v1"),
        (#""status":"active","pause_collection":{"behavior":"void"}"#, #"{"pause_collection":null}"#, "tally.subscription.paused.v1"),
        (#""status":"active","pause_collection":null"#, #"{"pause_collection":{"behavior":"void"}}"#, "tally.subscription.resumed.v1"),
        (#""status":"canceled","pause_collection":null"#, #"{"status":"active"}"#, "tally.subscription.canceled.v1"),
        (#""status":"past_due","pause_collection":null"#, #"{"items":{}}"#, "tally.subscription.changed.v1"),
    ])
    func stripeSubscriptionUpdatesAreClassifiedByWhatChanged(_ object: String, _ previous: String, _ expected: String) throws {
        var raw = try Self.raw("stripe/customer.subscription.updated.json")
        let body =
            #"{"id":"evt_u","type":"customer.subscription.updated","created":1795593600,"data":{"object":{"id":"sub_1","customer":"cus_1",\#(object),"current_period_end":1797926400,"items":{"data":[{"quantity":2,"price":{"id":"price_1","currency":"usd","unit_amount":500,"recurring":{"interval":"year","interval_count":1}}}]}},"previous_attributes":\#(previous)}}"#
        raw.bodyBase64 = Data(body.utf8).base64EncodedString()
        guard case .events(let events) = try Normalizer().normalize(raw) else { Issue.record("not mapped"); return }
        #expect(events.map(\.eventType) == [expected])
    }
}
