import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceRuntime
import Testing

@Suite("Admin API authentication")
struct AdminAuthTests {
    let tokens = AdminTokens(secret: "a-test-secret-that-is-long-enough-0123456789")

    /// A router shaped like a service's: admin routes under /admin/orgs/{org}.
    func app() -> some ApplicationProtocol {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        let admin = router.group("admin/orgs/:org").add(middleware: AdminAuthMiddleware(tokens: tokens))
        admin.get("invoices") { _, context in
            "read by \(try context.requirePrincipal().subject)"
        }
        admin.post("invoices/:id/void") { _, context in
            "voided by \(try context.requirePrincipal().role.rawValue)"
        }
        return Application(router: router)
    }

    func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

    @Test func aViewerCanReadButNotWrite() async throws {
        let viewer = tokens.issue(subject: "vera", org: "org_acme", role: .viewer)
        try await app().test(.router) { client in
            try await client.execute(uri: "/admin/orgs/org_acme/invoices", method: .get, headers: bearer(viewer)) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "read by vera")
            }
            try await client.execute(uri: "/admin/orgs/org_acme/invoices/inv_1/void", method: .post, headers: bearer(viewer)) { response in
                #expect(response.status == .forbidden)
                #expect(response.headers[.contentType] == "application/problem+json")
                let problem = try JSONDecoder().decode(Problem.self, from: Data(buffer: response.body))
                #expect(problem.type == "https://tally.dev/problems/forbidden")
                #expect(problem.detail?.contains("viewer") == true)
            }
        }
    }

    @Test func financeCanWrite() async throws {
        let finance = tokens.issue(subject: "fin", org: "org_acme", role: .finance)
        try await app().test(.router) { client in
            try await client.execute(uri: "/admin/orgs/org_acme/invoices/inv_1/void", method: .post, headers: bearer(finance)) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "voided by finance")
            }
        }
    }

    @Test func oneOrgsTokenCannotReachAnotherOrg() async throws {
        let owner = tokens.issue(subject: "olga", org: "org_acme", role: .owner)
        try await app().test(.router) { client in
            try await client.execute(uri: "/admin/orgs/org_globex/invoices", method: .get, headers: bearer(owner)) { response in
                #expect(response.status == .forbidden)
            }
        }
    }

    @Test func missingForgedOrExpiredTokensAreRefused() async throws {
        let forged = AdminTokens(secret: "someone-elses-secret-0123456789abcdef").issue(subject: "eve", org: "org_acme", role: .owner)
        let expired = tokens.issue(subject: "old", org: "org_acme", role: .owner, lifetime: .seconds(60), now: Date().addingTimeInterval(-3600))
        let valid = tokens.issue(subject: "ok", org: "org_acme", role: .owner)
        let parts = valid.split(separator: ".")
        let tamperedClaims = Data(#"{"exp":9999999999,"org":"org_acme","role":"owner","sub":"mallory"}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "")
        let tampered = "\(parts[0]).\(tamperedClaims).\(parts[2])"
        let noneAlgorithm = "eyJhbGciOiJub25lIn0.\(parts[1])."
        try await app().test(.router) { client in
            try await client.execute(uri: "/admin/orgs/org_acme/invoices", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            for (token, type) in [(forged, "invalid-token"), (tampered, "invalid-token"), (noneAlgorithm, "invalid-token"), (expired, "expired-token")] {
                try await client.execute(uri: "/admin/orgs/org_acme/invoices", method: .get, headers: bearer(token)) { response in
                    #expect(response.status == .unauthorized)
                    let problem = try JSONDecoder().decode(Problem.self, from: Data(buffer: response.body))
                    #expect(problem.type == "https://tally.dev/problems/\(type)")
                }
            }
        }
    }
}
