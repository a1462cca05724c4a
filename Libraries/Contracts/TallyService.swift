/// One Tally service as every part of the project names it: its executable and SwiftPM target,
/// its local HTTP port, its database schema and role, its consumer group and its dead-letter
/// topic. `Package.swift`, `ops/services.txt`, the stack scripts and `tally doctor` agree with
/// this catalog; a test checks the first two, the others read it.
public struct TallyService: Hashable, Sendable, CustomStringConvertible {
    /// The executable name, e.g. `ingest-gateway`.
    public let name: String
    /// The SwiftPM target under `Services/`, e.g. `IngestGateway`.
    public let target: String
    /// The HTTP port on the local stack (`TALLY_<NAME>_PORT` overrides it there).
    public let port: Int

    public var description: String { name }

    /// The PostgreSQL schema the service owns (`ingest_gateway`).
    public var schema: String { name.replacingOccurrences(of: "-", with: "_") }
    /// The login role that may use only that schema (`tally_ingest_gateway`).
    public var role: String { "tally_\(schema)" }
    /// The Kafka consumer group of the service's inbox consumer (`tally.ingest-gateway`).
    public var consumerGroup: String { "tally.\(name)" }
    /// Where the service sets aside what it cannot handle.
    public var deadLetterTopic: TallyTopic { TallyTopic.deadLetters(of: name) }
    /// The variable that moves its port on the local and test stacks (`TALLY_INGEST_GATEWAY_PORT`).
    public var portVariable: String { "TALLY_\(name.uppercased().replacingOccurrences(of: "-", with: "_"))_PORT" }

    public static let ingestGateway = TallyService(name: "ingest-gateway", target: "IngestGateway", port: 8081)
    public static let normalizer = TallyService(name: "normalizer", target: "Normalizer", port: 8082)
    public static let billing = TallyService(name: "billing", target: "Billing", port: 8083)
    public static let finance = TallyService(name: "finance", target: "Finance", port: 8084)
    public static let privacy = TallyService(name: "privacy", target: "Privacy", port: 8085)
    public static let notifications = TallyService(name: "notifications", target: "Notifications", port: 8086)
    public static let reconciliation = TallyService(name: "reconciliation", target: "Reconciliation", port: 8087)

    /// Every service, in start order (the gateway first).
    public static let all: [TallyService] = [ingestGateway, normalizer, billing, finance, privacy, notifications, reconciliation]

    /// The service with executable `name`, if there is one.
    public static func named(_ name: String) -> TallyService? { all.first { $0.name == name } }
}
