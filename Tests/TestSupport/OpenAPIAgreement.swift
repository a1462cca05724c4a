import Contracts
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceRuntime
import Storage

/// Compares a service's `contracts/openapi/<service>.yaml` with the routes its router serves.
public enum OpenAPIAgreement {
    /// The service's OpenAPI document.
    public static func document(of service: TallyService) -> URL {
        TestEvents.repository.appendingPathComponent("contracts/openapi/\(service.name).yaml")
    }

    /// "METHOD /path/{param}" for every operation under `paths:` (the documents keep one path
    /// per line at two spaces and one method per line at four).
    public static func documentedOperations(of service: TallyService) throws -> Set<String> {
        let lines = try String(contentsOf: document(of: service), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
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
                ["get:", "post:", "put:", "patch:", "delete:"].contains(trimmed)
            {
                operations.insert("\(trimmed.dropLast().uppercased()) \(path)")
            }
        }
        return operations
    }

    /// The same for the router `definition` builds (no database is contacted).
    public static func routedOperations(of definition: ServiceDefinition) throws -> Set<String> {
        let configuration = try TestService.configuration(for: definition.service)
        let client = PostgresClient(configuration: configuration.database.clientConfiguration, backgroundLogger: Logger(label: "openapi-test"))
        let router = try TestService.router(for: definition, client: client, schema: try ServiceSchema(service: definition.name))
        return Set(
            router.routes.map { route in
                let path = route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
                return "\(route.method.rawValue) /\(path)"
            })
    }
}
