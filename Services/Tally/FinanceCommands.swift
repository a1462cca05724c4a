import ArgumentParser
import Contracts
import Foundation
import Logging
import PostgresNIO
import ServiceRuntime
import Storage

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Options of the commands that call the finance service's admin API with a token this CLI
/// mints (`TALLY_ADMIN_TOKEN_SECRET`, the local stack's development key when unset).
struct FinanceOptions: ParsableArguments {
    @Option(name: .long, help: "The finance service (default: http://127.0.0.1:$TALLY_FINANCE_PORT or its local port).")
    var financeURL: String =
        "http://127.0.0.1:\(ProcessInfo.processInfo.environment[TallyService.finance.portVariable] ?? String(TallyService.finance.port))"
    @Option(name: .long, help: "Who acts (recorded in the finance audit log).")
    var subject: String = "tally-cli:\(ProcessInfo.processInfo.environment["USER"] ?? "operator")"

    /// A short-lived token for `org` with `role`.
    func token(org: String, role: AdminRole) -> String {
        let secret = ProcessInfo.processInfo.environment["TALLY_ADMIN_TOKEN_SECRET"] ?? ServiceConfiguration.developmentAdminTokenSecret
        return AdminTokens(secret: secret).issue(subject: subject, org: org, role: role, lifetime: .seconds(300))
    }

    /// Calls `method path` for `org`; the status and the JSON object answered.
    func call(_ method: String, org: String, path: String, role: AdminRole) async throws -> (Int, [String: Any]) {
        guard let url = URL(string: "\(financeURL)/admin/orgs/\(org)/\(path)") else { throw ValidationError("--finance-url is not a URL") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = 60
        request.setValue("Bearer \(token(org: org, role: role))", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return (status, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }
}

/// `tally verify finance [--org ORG]`: the ledger's consistency check (seed: "npm run verify —
/// Financial Consistency") for one org, or for every org that has a ledger. Exits non-zero and
/// names the first failing check and item.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check a service's books: `tally verify finance [--org ORG]`.")

    @Argument(help: "What to verify (finance).")
    var target: String
    @Option(name: .long, help: "One org; without it every org with a ledger, found through the administrator database (operator scope).")
    var org: String?
    @Option(name: .long, help: "Administrator database URL, to list the orgs (default: $TALLY_DATABASE_ADMIN_URL or the local stack's).")
    var databaseURL: String =
        ProcessInfo.processInfo.environment["TALLY_DATABASE_ADMIN_URL"]
        ?? "postgres://postgres@127.0.0.1:\(ProcessInfo.processInfo.environment["TALLY_PG_PORT"] ?? "55432")/tally"
    @OptionGroup var finance: FinanceOptions

    func validate() throws {
        guard target == "finance" else { throw ValidationError("only `finance` can be verified") }
        if let org, TenantID(rawValue: org) == nil { throw ValidationError("--org is not a valid org id") }
    }

    func run() async throws {
        let orgs: [String]
        if let org { orgs = [org] } else { orgs = try await ledgerOrgs() }
        var failures = 0
        var rows: [[String]] = []
        for org in orgs {
            let (status, body) = try await finance.call("GET", org: org, path: "ledger/verify", role: .viewer)
            guard status == 200 else {
                failures += 1
                rows.append([org, "FAIL", "-", "the finance service answered \(status): \(body["detail"] ?? "")"])
                continue
            }
            let ok = body["ok"] as? Bool ?? false
            let count = body["transactions"] as? Int ?? 0
            if ok {
                rows.append([org, "ok", "\(count)", "all checks passed"])
            } else {
                failures += 1
                let first = body["first_failure"] as? [String: Any] ?? [:]
                rows.append([org, "FAIL", "\(count)", "\(first["name"] ?? "?") (item \(first["item"] ?? "-")): \(first["detail"] ?? "")"])
            }
        }
        printTable(["ORG", "STATUS", "TRANSACTIONS", "DETAIL"], rows)
        print(failures == 0 ? "verify finance: \(orgs.count) orgs verified" : "verify finance: \(failures) of \(orgs.count) orgs failed")
        if failures > 0 { throw ExitCode(1) }
    }

    /// Every org with a ledger, read across orgs with the operator scope set explicitly.
    private func ledgerOrgs() async throws -> [String] {
        guard let configuration = DatabaseConfiguration(url: databaseURL) else { throw ValidationError("--database-url is not a postgres:// URL") }
        var logger = Logger(label: "tally-verify")
        logger.logLevel = .critical
        let client = PostgresClient(configuration: configuration.clientConfiguration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: [String]?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
                var orgs: [String] = []
                for try await org in try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT org_id FROM \(TallyService.finance.schema).ledger_heads ORDER BY org_id"), logger: logger
                ).decode(String.self) { orgs.append(org) }
                return orgs
            }
        }
    }
}

/// `tally refunds replay-offline --org ORG`: submits the refunds recorded offline (no provider
/// credentials when they were approved) and the approved ones that never reached the
/// provider, once each, under their idempotency keys.
struct RefundsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refunds", abstract: "People's refunds in the finance service.", subcommands: [ReplayOffline.self])

    struct ReplayOffline: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "replay-offline", abstract: "Submit offline refunds now that the provider is configured.")
        @Option(name: .long, help: "The org whose refunds to submit.")
        var org: String
        @OptionGroup var finance: FinanceOptions

        func validate() throws {
            if TenantID(rawValue: org) == nil { throw ValidationError("--org is not a valid org id") }
        }

        func run() async throws {
            let (status, body) = try await finance.call("POST", org: org, path: "refunds/replay-offline", role: .finance)
            guard status == 200 else {
                print("refunds replay-offline: the finance service answered \(status): \(body["detail"] ?? "")")
                throw ExitCode(1)
            }
            let refunds = body["refunds"] as? [[String: Any]] ?? []
            printTable(
                ["REFUND", "PAYMENT", "STATUS", "PROVIDER REFUND"],
                refunds.map { ["\($0["id"] ?? "")", "\($0["payment_id"] ?? "")", "\($0["status"] ?? "")", "\($0["provider_refund_id"] as? String ?? "-")"] })
            print("refunds replay-offline: \(body["submitted"] ?? 0) submitted, \(body["still_offline"] ?? 0) still offline, \(body["failed"] ?? 0) failed")
            if (body["failed"] as? Int ?? 0) > 0 { throw ExitCode(1) }
        }
    }
}
