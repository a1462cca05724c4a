import Contracts
import Foundation
import Kafka
import PostgresNIO
import Storage
import Synchronization
import TallyTestSupport
import Testing

/// The typed form of the consumer inbox on real PostgreSQL: events reach the handler registered
/// for their type, decoded; other types are ignored by name; what does not decode is set aside.
@Suite("Typed inbox handlers on real PostgreSQL", .enabled(if: TestDatabase.enabled), .serialized)
struct TypedInboxTests {
    /// What a handler saw, in order: the event ids per call.
    final class Calls: Sendable {
        let runs = Mutex<[[String]]>([])
        func record(_ ids: [String]) { runs.withLock { $0.append(ids) } }
    }

    func inbox(_ client: PostgresClient, _ schema: ServiceSchema, calls: Calls) -> InboxTransaction {
        var handlers = InboxEventHandlers()
        handlers.on(
            OrderPlaced.self,
            batch: { events, _ in
                calls.record(events.map { "order:\($0.data.orderID)" })
                return events.map { _ in .applied }
            })
        handlers.on(
            PaymentCaptured.self,
            each: { event, _ in
                calls.record(["payment:\(event.data.paymentID)"])
                return event.tenant.rawValue == "org_01J9Z3ACME" ? .applied : .ignored
            })
        return InboxTransaction(
            client: client, schema: schema, group: "tally.test", deadLetterTopic: "tally.test.dead-letters.v1",
            logger: TestDatabase.logger, handlers: handlers)
    }

    func order(_ id: String) throws -> EventEnvelope<OrderPlaced> {
        try TestEvents.fixture(OrderPlaced.self) { event in
            event.id = "evt-order-\(id)"
            event.data.orderID = id
        }
    }

    func payment(_ id: String) throws -> EventEnvelope<PaymentCaptured> {
        try TestEvents.fixture(PaymentCaptured.self) { event in
            event.id = "evt-payment-\(id)"
            event.data.paymentID = id
        }
    }

    @Test func eventsReachTheirTypesHandlerInOrderAndOtherTypesAreIgnoredByName() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("typed")) { client, schema in
            let calls = Calls()
            let inbox = inbox(client, schema, calls: calls)
            let customer = try TestEvents.fixture(CustomerUpserted.self)
            try await inbox.apply([
                try TestEvents.message(try order("o1"), offset: 0), try TestEvents.message(try order("o2"), offset: 1),
                try TestEvents.message(try payment("p1"), offset: 2), try TestEvents.message(customer, offset: 3),
                try TestEvents.message(try order("o3"), offset: 4),
            ])
            #expect(
                calls.runs.withLock { $0 } == [["order:o1", "order:o2"], ["payment:p1"], ["order:o3"]],
                "consecutive events of one type come together, and batch order holds across types")
            let rows = try await client.strings(
                """
                SELECT event_id || ' ' || coalesce(event_type, '-') || ' ' || outcome FROM \(unescaped: schema.name).inbox ORDER BY kafka_offset
                """)
            #expect(
                rows == [
                    "evt-order-o1 tally.order.placed.v1 applied", "evt-order-o2 tally.order.placed.v1 applied",
                    "evt-payment-p1 tally.payment.captured.v1 applied", "\(customer.id) tally.customer.upserted.v1 ignored",
                    "evt-order-o3 tally.order.placed.v1 applied",
                ])
        }
    }

    /// A registered type whose message does not decode is dead-lettered through the outbox with
    /// the field that failed; the message is kept unchanged and the rest of the batch applies.
    @Test func aRegisteredTypeThatDoesNotDecodeIsDeadLetteredWithTheFieldThatFailed() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("undecodable")) { client, schema in
            let calls = Calls()
            let inbox = inbox(client, schema, calls: calls)
            var broken = try TestEvents.message(try order("bad"), offset: 7)
            var object = try #require(try JSONSerialization.jsonObject(with: Data(broken.value ?? [])) as? [String: Any])
            var data = try #require(object["data"] as? [String: Any])
            data.removeValue(forKey: "total")
            object["data"] = data
            broken = KafkaConsumerMessage(
                topic: broken.topic, partition: broken.partition, offset: broken.offset, key: broken.key,
                value: Array(try JSONSerialization.data(withJSONObject: object)), headers: broken.headers)
            try await inbox.apply([try TestEvents.message(try order("good"), offset: 6), broken, try TestEvents.message(try order("also"), offset: 8)])

            #expect(calls.runs.withLock { $0 }.flatMap { $0 }.filter { $0 != "order:bad" }.sorted() == ["order:also", "order:good"])
            let outcomes = try await client.strings("SELECT event_id || ' ' || outcome FROM \(unescaped: schema.name).inbox ORDER BY kafka_offset")
            #expect(outcomes == ["evt-order-good applied", "evt-order-bad dead-lettered", "evt-order-also applied"])
            let dead = try await client.query(
                """
                SELECT topic, message_key, payload, headers::text FROM \(unescaped: schema.name).outbox
                """, logger: TestDatabase.logger
            ).decode((String, String, ByteBuffer, String).self).collect()
            #expect(dead.count == 1)
            let (topic, key, payload, headersJSON) = try #require(dead.first)
            #expect(topic == "tally.test.dead-letters.v1")
            #expect(key == broken.key.map { String(decoding: $0, as: UTF8.self) })
            #expect(Array(buffer: payload) == broken.value, "the message is dead-lettered unchanged")
            let headers = try JSONDecoder().decode([String: String].self, from: Data(headersJSON.utf8))
            let deadLetter = try #require(DeadLetterHeaders(fields: headers))
            #expect(deadLetter.reason.contains("missing field 'total'"), "\(deadLetter.reason)")
            #expect(deadLetter.reason.contains("tally.order.placed.v1"))
            #expect(deadLetter == DeadLetterHeaders(reason: deadLetter.reason, topic: TallyTopic.orders.name, partition: 0, offset: 7, group: "tally.test"))
            #expect(headers["ce_id"] == "evt-order-bad", "the message's own headers are kept")
        }
    }

    /// The inbox's outcome column takes exactly the outcomes the code can record.
    @Test func theOutcomeConstraintListsEveryRecordedOutcome() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("outcomes")) { client, schema in
            let definition = try #require(
                try await client.strings(
                    """
                    SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'inbox_outcome_known' AND connamespace = \(schema.name)::regnamespace
                    """
                ).first)
            let listed = definition.split(separator: "'").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            #expect(Set(listed) == Set(InboxOutcome.recordedValues), "\(definition)")
            await #expect(throws: (any Error).self) {
                try await client.query(
                    "INSERT INTO \(unescaped: schema.name).inbox (event_id, topic, kafka_partition, kafka_offset, outcome) VALUES ('x', 't', 0, 0, 'pending')",
                    logger: TestDatabase.logger)
            }
        }
    }
}

extension AsyncSequence {
    func collect() async throws -> [Element] {
        var all: [Element] = []
        for try await element in self { all.append(element) }
        return all
    }
}
