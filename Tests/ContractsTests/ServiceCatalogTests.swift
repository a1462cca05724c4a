import Contracts
import Foundation
import Testing

/// The service catalog (`TallyService.all`) is the one list of services; the files that name
/// services too must agree with it.
@Suite("Service catalog")
struct ServiceCatalogTests {
    let repository = contractsFolder.deletingLastPathComponent()

    /// `ops/services.txt` (what the stack scripts start): the same names, ports and order.
    @Test func theStacksServiceTableIsTheCatalog() throws {
        let rows = try String(contentsOf: repository.appendingPathComponent("ops/services.txt"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }
            .map { $0.split(separator: " ").map(String.init) }.filter { !$0.isEmpty }
        #expect(rows.map { $0[0] } == TallyService.all.map(\.name))
        #expect(rows.map { Int($0[1]) } == TallyService.all.map(\.port))
    }

    /// `Package.swift`'s service list: one executable per service, with the catalog's target.
    @Test func thePackageBuildsEveryServiceOfTheCatalog() throws {
        let manifest = try String(contentsOf: repository.appendingPathComponent("Package.swift"), encoding: .utf8)
        let listed = manifest.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("(\""), trimmed.hasSuffix("\"),") else { return nil }
            return String(trimmed.dropLast())
        }
        #expect(listed == TallyService.all.map { "(\"\($0.target)\", \"\($0.name)\")" })
        for service in TallyService.all {
            #expect(
                FileManager.default.fileExists(atPath: repository.appendingPathComponent("Services/\(service.target)/Migrations").path),
                "\(service.name) ships its migrations")
        }
    }

    /// What the catalog derives stays what the rest of the system was built on.
    @Test func namesDeriveFromTheExecutableName() {
        let gateway = TallyService.ingestGateway
        #expect(gateway.schema == "ingest_gateway")
        #expect(gateway.role == "tally_ingest_gateway")
        #expect(gateway.consumerGroup == "tally.ingest-gateway")
        #expect(gateway.deadLetterTopic.name == "tally.ingest-gateway.dead-letters.v1")
        #expect(gateway.portVariable == "TALLY_INGEST_GATEWAY_PORT")
        #expect(Set(TallyService.all.map(\.port)).count == TallyService.all.count, "no two services share a port")
        #expect(TallyService.named("normalizer") == .normalizer)
        #expect(TallyService.named("ledger") == nil)
    }

    @Test func deadLetterHeadersReadBackWhatTheyWrite() {
        let headers = DeadLetterHeaders(reason: String(repeating: "x", count: 3000), topic: "t", partition: 2, offset: 41, group: "tally.finance")
        #expect(headers.reason.count == DeadLetterHeaders.maximumReasonLength, "a long reason is cut")
        #expect(DeadLetterHeaders(fields: headers.fields) == headers)
        var broken = headers.fields
        broken[DeadLetterHeaders.offsetKey] = "forty-one"
        #expect(DeadLetterHeaders(fields: broken) == nil)
    }
}
