import ArgumentParser
import Contracts
import Foundation
import Kafka
import Logging
import PostgresNIO
import Storage

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `tally doctor`: checks a deployment end to end — the broker and Tally's topics, the database
/// and each service's schema, and every service's `/readyz` — and exits non-zero on any failure.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: "Check the broker, the database and every service's readiness.")
    @OptionGroup var broker: BrokerOptions
    @Option(name: .long, help: "Administrator database URL (default: $TALLY_DATABASE_ADMIN_URL or the local stack's).")
    var databaseURL: String =
        ProcessInfo.processInfo.environment["TALLY_DATABASE_ADMIN_URL"]
        ?? "postgres://postgres@127.0.0.1:\(ProcessInfo.processInfo.environment["TALLY_PG_PORT"] ?? "55432")/tally"
    @Option(name: .long, parsing: .upToNextOption, help: "Service readiness URLs as name=http://host:port (default: the local stack's ports).")
    var service: [String] = []

    struct Finding {
        var check: String
        var ok: Bool
        var detail: String
    }

    func run() async throws {
        var findings: [Finding] = []
        findings += await checkBroker()
        findings += await checkDatabase()
        findings += await checkServices()
        printTable(["CHECK", "STATUS", "DETAIL"], findings.map { [$0.check, $0.ok ? "ok" : "FAIL", $0.detail] })
        let failed = findings.filter { !$0.ok }.count
        print(failed == 0 ? "doctor: all \(findings.count) checks passed" : "doctor: \(failed) of \(findings.count) checks failed")
        if failed > 0 { throw ExitCode(1) }
    }

    private func checkBroker() async -> [Finding] {
        do {
            let topics = try await broker.withAdmin { admin in try await admin.topics() }
            let present = Set(topics.map(\.name))
            let missing = TallyTopic.all.map(\.name).filter { !present.contains($0) }
            return [
                Finding(check: "broker", ok: true, detail: "\(broker.brokers) answers, \(topics.count) topics, librdkafka \(KafkaLibrary.version)"),
                Finding(
                    check: "topics", ok: missing.isEmpty, detail: missing.isEmpty ? "all \(TallyTopic.all.count) Tally topics exist" : "missing: \(missing.joined(separator: ", "))"
                ),
            ]
        } catch {
            return [Finding(check: "broker", ok: false, detail: "\(error)")]
        }
    }

    private func checkDatabase() async -> [Finding] {
        guard let configuration = DatabaseConfiguration(url: databaseURL) else {
            return [Finding(check: "database", ok: false, detail: "--database-url is not a postgres:// URL")]
        }
        var logger = Logger(label: "tally-doctor")
        logger.logLevel = .critical
        let client = PostgresClient(configuration: configuration.clientConfiguration, backgroundLogger: logger)
        return await withTaskGroup(of: [Finding]?.self) { group in
            group.addTask {
                await client.run(); return nil
            }
            defer { group.cancelAll() }
            do {
                try await client.query("SELECT 1", logger: logger)
                var findings = [Finding(check: "database", ok: true, detail: "\(configuration.host):\(configuration.port)/\(configuration.database) answers")]
                for tallyService in TallyService.all {
                    let schema = tallyService.schema
                    var version: String?
                    do {
                        for try await value in try await client.query(PostgresQuery(unsafeSQL: "SELECT max(version)::text FROM \(schema).schema_migrations"), logger: logger)
                            .decode(String?.self)
                        {
                            version = value
                        }
                        findings.append(Finding(check: "schema \(schema)", ok: version != nil, detail: version.map { "migrated to version \($0)" } ?? "no migrations applied"))
                        findings += try await jobFindings(schema: schema, client: client, logger: logger)
                    } catch {
                        findings.append(Finding(check: "schema \(schema)", ok: false, detail: "not migrated (the service has not started yet?)"))
                    }
                }
                return findings
            } catch {
                return [Finding(check: "database", ok: false, detail: "\(error)")]
            }
        }
    }

    /// One finding per time-driven job of the schema (`job_heartbeats`, platform migration 9): a
    /// job is healthy when its last run succeeded within the last two minutes.
    private func jobFindings(schema: String, client: PostgresClient, logger: Logger) async throws -> [Finding] {
        var findings: [Finding] = []
        let rows = try await client.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT job, coalesce(extract(epoch FROM now() - last_success_at), -1)::float8, consecutive_failures, coalesce(last_error, '')
                      FROM \(schema).job_heartbeats ORDER BY job
                    """), logger: logger)
        for try await (job, age, failures, error) in rows.decode((String, Double, Int, String).self) {
            let healthy = age >= 0 && age < 120 && failures == 0
            let detail =
                age < 0
                ? "never succeeded; \(failures) failures in a row, last: \(error)"
                : "last success \(Int(age)) s ago" + (failures > 0 ? ", \(failures) failures since, last: \(error)" : "")
            findings.append(Finding(check: "job \(job)", ok: healthy, detail: detail))
        }
        return findings
    }

    private func checkServices() async -> [Finding] {
        let defaults = TallyService.all.map { tallyService -> String in
            let port = ProcessInfo.processInfo.environment[tallyService.portVariable] ?? String(tallyService.port)
            return "\(tallyService.name)=http://127.0.0.1:\(port)"
        }
        var findings: [Finding] = []
        for entry in service.isEmpty ? defaults : service {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let url = URL(string: parts[1] + "/readyz") else {
                findings.append(Finding(check: entry, ok: false, detail: "expected name=http://host:port"))
                continue
            }
            var request = URLRequest(url: url)
            request.timeoutInterval = 5
            do {
                let (data, response) = try await URLSession.shared.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                let body = String(decoding: data, as: UTF8.self)
                findings.append(Finding(check: "service \(parts[0])", ok: status == 200, detail: status == 200 ? "ready" : "HTTP \(status): \(body.prefix(200))"))
            } catch {
                findings.append(Finding(check: "service \(parts[0])", ok: false, detail: "unreachable at \(parts[1]): \(error.localizedDescription)"))
            }
        }
        return findings
    }
}
