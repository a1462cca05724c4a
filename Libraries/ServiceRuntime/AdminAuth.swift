import Contracts
@preconcurrency import Crypto
import Foundation
import Hummingbird
import Storage

/// What a person may do in an org's admin API.
public enum AdminRole: String, Codable, Sendable, CaseIterable {
    case owner, admin, finance, support, viewer

    /// Viewers only read; every other role may change state (routes can narrow further).
    public var canWrite: Bool { self != .viewer }
}

/// The verified holder of an admin bearer token.
public struct AdminPrincipal: Codable, Sendable, Equatable {
    /// Who acts: recorded as the audit actor.
    public var subject: String
    public var org: String
    public var role: AdminRole
    /// Seconds since 1970.
    public var expiresAt: Int64

    enum CodingKeys: String, CodingKey {
        case subject = "sub", org, role, expiresAt = "exp"
    }
}

extension AdminPrincipal {
    /// The org the principal acts for, as the tenant of its transactions.
    public func tenant() throws -> TenantID {
        guard let org = TenantID(rawValue: org) else { throw Problem.forbidden("the token has no org") }
        return org
    }
}

/// Issues and verifies admin bearer tokens: compact JWS with HS256 over the claims
/// `sub`, `org`, `role` and `exp`. Verification is constant-time and rejects any other algorithm.
public struct AdminTokens: Sendable {
    private let key: SymmetricKey

    public init(secret: String) {
        self.key = SymmetricKey(data: Data(secret.utf8))
    }

    public func issue(subject: String, org: String, role: AdminRole, lifetime: Duration = .seconds(3600), now: Date = Date()) -> String {
        let header = Base64URL.encode(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let claims = AdminPrincipal(subject: subject, org: org, role: role, expiresAt: Int64(now.timeIntervalSince1970) + lifetime.components.seconds)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let payload = Base64URL.encode((try? encoder.encode(claims)) ?? Data())
        let signature = HMAC<SHA256>.authenticationCode(for: Data("\(header).\(payload)".utf8), using: key)
        return "\(header).\(payload).\(Base64URL.encode(Data(signature)))"
    }

    /// The principal of a valid, unexpired token; a 401 problem otherwise (never saying which
    /// part was wrong beyond "invalid" or "expired").
    public func verify(_ token: String, now: Date = Date()) throws(Problem) -> AdminPrincipal {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerData = Base64URL.decode(String(parts[0])),
            let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any],
            header["alg"] as? String == "HS256",
            let signature = Base64URL.decode(String(parts[2])),
            HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data("\(parts[0]).\(parts[1])".utf8), using: key),
            let payload = Base64URL.decode(String(parts[1])),
            let principal = try? JSONDecoder().decode(AdminPrincipal.self, from: payload)
        else {
            throw Problem(type: "invalid-token", title: "Invalid bearer token", status: .unauthorized, detail: "the bearer token is malformed or its signature does not verify")
        }
        guard principal.expiresAt > Int64(now.timeIntervalSince1970) else {
            throw Problem(type: "expired-token", title: "Expired bearer token", status: .unauthorized, detail: "the bearer token has expired")
        }
        return principal
    }
}

/// Guards admin routes mounted under `/admin/orgs/{org}`: a valid bearer token is required, its
/// org must be the org in the path, and only roles that may write can use methods other than
/// GET and HEAD.
public struct AdminAuthMiddleware: RouterMiddleware {
    public typealias Context = ServiceRequestContext
    let tokens: AdminTokens

    public init(tokens: AdminTokens) { self.tokens = tokens }

    public func handle(_ request: Request, context: ServiceRequestContext, next: (Request, ServiceRequestContext) async throws -> Response) async throws -> Response {
        guard let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") else {
            throw Problem.unauthorized("send an admin token as 'Authorization: Bearer <token>'")
        }
        let principal = try tokens.verify(String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        guard let org = context.parameters.get("org"), org == principal.org else {
            throw Problem.forbidden("the token is not valid for this org")
        }
        if request.method != .get && request.method != .head && !principal.role.canWrite {
            throw Problem.forbidden("role \(principal.role.rawValue) may only read")
        }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "tenant"] = "\(principal.org)"
        context.logger[metadataKey: "actor"] = "\(principal.subject)"
        return try await next(request, context)
    }
}

/// base64url without padding (RFC 7515 §2).
enum Base64URL {
    static func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
