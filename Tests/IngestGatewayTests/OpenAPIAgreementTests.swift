import Crypto
import Foundation
import Hummingbird
@testable import IngestGateway
import Kafka
import Logging
import PostgresNIO
import Prometheus
import ServiceRuntime
import Storage
import TallyTestSupport
import Testing

/// `contracts/openapi/ingest-gateway.yaml` and the gateway's router list the same operations.
@Suite("Gateway OpenAPI document")
struct OpenAPIAgreementTests {
    static let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("contracts/openapi/ingest-gateway.yaml")

    /// "METHOD /path/{param}" for every operation under `paths:` (the document keeps one path
    /// per line at two spaces and one method per line at four).
    static func documentedOperations() throws -> Set<String> {
        let lines = try String(contentsOf: document, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        var operations = Set<String>()
        var inPaths = false
        var currentPath: String?
        for line in lines {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if !line.hasPrefix(" "), !line.isEmpty { break }
            if line.hasPrefix("  /"), line.hasSuffix(":") { currentPath = String(line.dropFirst(2).dropLast()); continue }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("    "), !line.hasPrefix("     "), let path = currentPath,
               ["get:", "post:", "put:", "patch:", "delete:"].contains(trimmed) {
                operations.insert("\(trimmed.dropLast().uppercased()) \(path)")
            }
        }
        return operations
    }

    /// The same for the router the gateway runs with.
    static func routedOperations() throws -> Set<String> {
        let configuration = try TestService.configuration(for: .ingestGateway)
        let client = PostgresClient(configuration: configuration.database.clientConfiguration, backgroundLogger: Logger(label: "openapi-test"))
        let definition = IngestGatewayService.definition(GatewaySettings(box: SecretBox(key: SymmetricKey(size: .bits256))))
        let router = try TestService.router(for: definition, client: client, schema: try ServiceSchema(service: definition.name))
        return Set(router.routes.map { route in
            let path = route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
            return "\(route.method.rawValue) /\(path)"
        })
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationExists() throws {
        let documented = try Self.documentedOperations()
        let routed = try Self.routedOperations()
        #expect(documented.count >= 13)
        #expect(routed.subtracting(documented).isEmpty, "routes missing from the OpenAPI document: \(routed.subtracting(documented).sorted())")
        #expect(documented.subtracting(routed).isEmpty, "documented operations with no route: \(documented.subtracting(routed).sorted())")
    }
}
