import Contracts
import Foundation
import Testing

@Suite("Event contracts")
struct ContractTests {
    @Test(arguments: allContracts)
    func encodesExactlyItsGoldenFixture(_ contract: Contract) throws {
        let encoded = try contract.encodeGolden()
        if ProcessInfo.processInfo.environment["TALLY_UPDATE_GOLDEN"] == "1" {
            // Writes a new event type's fixture; review it, then run without the variable.
            try Data(encoded).write(to: contractsFolder.appendingPathComponent("fixtures/\(contract.eventType).json"))
        }
        let fixture = try fixtureBytes(contract.eventType)
        #expect(String(decoding: encoded, as: UTF8.self) == String(decoding: fixture, as: UTF8.self))
    }

    @Test(arguments: allContracts)
    func fixtureDecodesToTheGoldenValue(_ contract: Contract) throws {
        try contract.decode(try fixtureBytes(contract.eventType))
    }

    @Test(arguments: allContracts)
    func removingARequiredFieldFailsDecoding(_ contract: Contract) throws {
        let document = try JSONSerialization.jsonObject(with: Data(try fixtureBytes(contract.eventType))) as! [String: Any]
        let envelopeSchema = try schema(contract.eventType)
        let dataSchema = (envelopeSchema["properties"] as? [String: Any])?["data"] as? [String: Any] ?? [:]
        var checked = 0
        for field in envelopeSchema["required"] as? [String] ?? [] {
            var mutated = document
            mutated.removeValue(forKey: field)
            #expect(throws: (any Error).self, "decoding without \(field)") { try contract.decode(try json(mutated)) }
            checked += 1
        }
        for field in dataSchema["required"] as? [String] ?? [] {
            var data = document["data"] as! [String: Any]
            data.removeValue(forKey: field)
            var mutated = document
            mutated["data"] = data
            #expect(throws: (any Error).self, "decoding without data.\(field)") { try contract.decode(try json(mutated)) }
            checked += 1
        }
        #expect(checked > 10)
    }

    @Test(arguments: allContracts)
    func changingAFieldTypeFailsDecoding(_ contract: Contract) throws {
        let document = try JSONSerialization.jsonObject(with: Data(try fixtureBytes(contract.eventType))) as! [String: Any]
        for (field, value) in document where field != "data" {
            var mutated = document
            mutated[field] = otherType(value)
            #expect(throws: (any Error).self, "decoding with \(field) retyped") { try contract.decode(try json(mutated)) }
        }
        let data = document["data"] as! [String: Any]
        for (field, value) in data {
            var changed = data
            changed[field] = otherType(value)
            var mutated = document
            mutated["data"] = changed
            #expect(throws: (any Error).self, "decoding with data.\(field) retyped") { try contract.decode(try json(mutated)) }
        }
    }

    @Test func everyFixtureAndSchemaHasAContract() throws {
        let names = { (folder: String) in
            try FileManager.default.contentsOfDirectory(atPath: contractsFolder.appendingPathComponent(folder).path)
                .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
        }
        let known = allContracts.map(\.eventType).sorted()
        #expect(try names("fixtures") == known)
        #expect(try names("schemas") == known)
    }

    @Test func topicCatalogMatchesTheStackAndTheAsyncAPIDocument() throws {
        let stack = try String(contentsOf: contractsFolder.deletingLastPathComponent().appendingPathComponent("ops/topics.txt"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
            .map { line in line.split(separator: " ").map(String.init) }
        #expect(stack.map { $0[0] } == TallyTopic.all.map(\.name))
        #expect(stack.map { Int32($0[1]) } == TallyTopic.all.map(\.partitions))
        let asyncAPI = try String(contentsOf: contractsFolder.appendingPathComponent("asyncapi.yaml"), encoding: .utf8)
        for topic in TallyTopic.all {
            #expect(asyncAPI.contains("address: \(topic.name)\n"), "asyncapi.yaml lists \(topic.name)")
        }
        #expect(asyncAPI.components(separatedBy: "    address: ").count - 1 == TallyTopic.all.count)
    }

    @Test func moneyIsMinorUnitsWithAnISOCurrency() throws {
        let usd = try #require(CurrencyCode(rawValue: "USD"))
        let encoded = String(decoding: try CanonicalJSON.encode(Money(amountMinor: 1999, currency: usd)), as: UTF8.self)
        #expect(encoded == #"{"amount_minor":1999,"currency":"USD"}"#)
        #expect(CurrencyCode(rawValue: "usd") == nil)
        #expect(CurrencyCode(rawValue: "US") == nil)
        #expect(throws: DecodingError.self) { try CanonicalJSON.decode(Money.self, from: Array(#"{"amount_minor":19.99,"currency":"USD"}"#.utf8)) }
        #expect(throws: DecodingError.self) { try CanonicalJSON.decode(Money.self, from: Array(#"{"amount_minor":1999,"currency":"usd"}"#.utf8)) }
    }

    @Test func anEnvelopeOfAnotherTypeIsRefused() throws {
        let outcome = try fixtureBytes(WebhookOutcome.eventType)
        #expect(throws: DecodingError.self) { try CanonicalJSON.decode(EventEnvelope<WebhookReceived>.self, from: outcome) }
    }
}

private func json(_ object: [String: Any]) throws -> [UInt8] {
    Array(try JSONSerialization.data(withJSONObject: object))
}

/// A JSON value of a different type than `value`.
private func otherType(_ value: Any) -> Any {
    switch value {
    case is String: return 12345
    case is NSNumber: return "12345"
    case is [Any]: return ["not": "a list"]
    case is [String: Any]: return ["not", "an", "object"]
    default: return 0
    }
}

@Suite("Small encoders shared by the hot paths")
struct SharedEncodingTests {
    @Test func aStringObjectIsCanonicalJSONThatFoundationReadsBack() throws {
        let fields = ["ce_type": "tally.payment.succeeded.v1", "b": "quote \" backslash \\ newline \n tab \t bell \u{07} é ✓", "a": ""]
        let text = CanonicalJSON.object(fields)
        #expect(text.hasPrefix(#"{"a":"","b":"quote \" backslash \\ newline \n tab \t bell \u0007 é ✓","ce_type":"#))
        let decoded = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
        #expect(decoded == fields)
        #expect(CanonicalJSON.object([:]) == "{}")
    }

    @Test func bytesAsLowercaseHex() {
        #expect([UInt8]([0x00, 0x0f, 0xa0, 0xff]).lowercaseHex == "000fa0ff")
        #expect([UInt8]().lowercaseHex == "")
    }
}
