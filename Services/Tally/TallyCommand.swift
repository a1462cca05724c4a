import ArgumentParser
import Foundation
import Kafka
import Logging

/// `tally`, the operator CLI: topics, consumer lag, offset replay, health, the books and refunds.
@main
struct TallyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally",
        abstract: "Operate a Tally deployment: topics, consumer groups, lag, replay and health.",
        subcommands: [
            TopicsCommand.self, BenchCommand.self, GroupsCommand.self, LagCommand.self, ReplayCommand.self, DoctorCommand.self, TokenCommand.self, VerifyCommand.self,
            RefundsCommand.self, VersionCommand.self,
        ]
    )
}

/// Options every broker-facing command shares.
struct BrokerOptions: ParsableArguments {
    @Option(name: .long, help: "Kafka bootstrap servers (default: $TALLY_KAFKA_BROKERS or 127.0.0.1:19092).")
    var brokers: String = ProcessInfo.processInfo.environment["TALLY_KAFKA_BROKERS"] ?? "127.0.0.1:19092"

    @Flag(name: .long, help: "Log librdkafka's messages and the library version.")
    var verbose = false

    /// Runs `body` with an admin client and always closes the client afterwards.
    func withAdmin<R>(_ body: (KafkaAdmin) async throws -> R) async throws -> R {
        let admin = try makeAdmin()
        do {
            let result = try await body(admin)
            await admin.close()
            return result
        } catch {
            await admin.close()
            throw error
        }
    }

    private func makeAdmin() throws -> KafkaAdmin {
        var logger = Logger(label: "tally")
        logger.logLevel = verbose ? .debug : .error
        logger.debug("librdkafka \(KafkaLibrary.version)")
        let servers = brokers.split(separator: ",").map(String.init)
        return try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: servers, clientID: "tally-cli", statisticsInterval: nil), logger: logger)
    }
}

/// Prints rows as aligned columns.
func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
    print(line(header))
    for row in rows { print(line(row)) }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the librdkafka version this binary loaded.")
    func run() {
        print("librdkafka \(KafkaLibrary.version)\(KafkaLibrary.isSupportedVersion ? "" : " (older than 2.16: run `make bootstrap`)")")
    }
}

/// A command that could not do what was asked; printed as `Error: <message>` with exit code 1.
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
