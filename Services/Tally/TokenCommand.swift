import ArgumentParser
import Foundation
import ServiceRuntime

/// `tally token`: mints an admin bearer token for one org and role, signed with
/// `TALLY_ADMIN_TOKEN_SECRET` (the local stack's development key when it is unset).
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Mint an admin bearer token for an org and role.")
    @Option(name: .long, help: "The org the token is valid for.")
    var org: String
    @Option(name: .long, help: "owner, admin, finance, support or viewer.")
    var role: String
    @Option(name: .long, help: "Who acts (recorded in audit logs).")
    var subject: String = ProcessInfo.processInfo.environment["USER"] ?? "operator"
    @Option(name: .long, help: "Lifetime in seconds.")
    var ttl: Int = 3600

    func validate() throws {
        guard AdminRole(rawValue: role) != nil else {
            throw ValidationError("--role must be one of \(AdminRole.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard ttl > 0, ttl <= 86_400 * 30 else { throw ValidationError("--ttl must be between 1 and 2592000 seconds") }
    }

    func run() {
        let secret = ProcessInfo.processInfo.environment["TALLY_ADMIN_TOKEN_SECRET"] ?? ServiceConfiguration.developmentAdminTokenSecret
        if ProcessInfo.processInfo.environment["TALLY_ADMIN_TOKEN_SECRET"] == nil {
            FileHandle.standardError.write(Data("note: TALLY_ADMIN_TOKEN_SECRET is unset; signing with the local stack's development key\n".utf8))
        }
        print(AdminTokens(secret: secret).issue(subject: subject, org: org, role: AdminRole(rawValue: role)!, lifetime: .seconds(Int64(ttl))))
    }
}
