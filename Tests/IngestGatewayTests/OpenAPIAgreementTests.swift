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
        var environment = ProcessInfo.processInfo.environment
        environment["TALLY_KAFKA_BROKERS"] = "127.0.0.1:1"
        environment["TALLY_DATABASE_URL"] = "postgres://tally_ingest_gateway:pw@127.0.0.1:1/tally"
        let configuration = try ServiceConfiguration(serviceName: "ingest-gateway", environment: EnvironmentReader(environment))
        let logger = Logger(label: "openapi-test")
        let client = PostgresClient(configuration: configuration.database.clientConfiguration, backgroundLogger: logger)
        let producer = try KafkaProducer(configuration: .init(client: .init(bootstrapServers: ["127.0.0.1:1"], statisticsInterval: nil)), logger: logger)
        let schema = try ServiceSchema(service: "ingest-gateway")
        let dependencies = ServiceDependencies(configuration: configuration, client: client, schema: schema, outbox: Outbox(schema: schema),
                                               audit: AuditLog(schema: schema), producer: producer, logger: logger)
        let definition = IngestGatewayService.definition(box: SecretBox(key: SymmetricKey(size: .bits256)), maxBodySize: 1 << 20)
        let router = ServiceRouter.build(definition, dependencies: dependencies, checks: [], registry: PrometheusCollectorRegistry())
        Task { await producer.shutdown(flushTimeout: .milliseconds(10)) }
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
