import Contracts
import Foundation
import Hummingbird

/// Reading admin routes' bodies and checking roles, the same way in every service: bodies with
/// exactly the documented fields, times in RFC 3339, roles named in the refusal.
extension RequestInput {
    /// Decodes a JSON object body of at most 16 KiB whose keys are all in `allowed`; anything
    /// else is refused with 400 naming the field.
    public static func body<T: Decodable>(_ type: T.Type, from request: Request, allowed: Set<String>) async throws -> T {
        try decode(type, from: try await request.body.collect(upTo: 16 * 1024), allowed: allowed)
    }

    /// An optional body: nil when the request has none, else read as `body` reads it.
    public static func optionalBody<T: Decodable>(_ type: T.Type, from request: Request, allowed: Set<String>) async throws -> T? {
        let buffer = try await request.body.collect(upTo: 16 * 1024)
        return buffer.readableBytes == 0 ? nil : try decode(type, from: buffer, allowed: allowed)
    }

    private static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer, allowed: Set<String>) throws -> T {
        let data = Data(buffer: buffer)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw Problem.badRequest("the body must be a JSON object")
        }
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) { throw invalid(unknown, "is not a field of this request") }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw Problem.badRequest("the body is not a valid request: \(DecodingFailure.describe(error))")
        }
    }

    /// The query parameter `name` as an RFC 3339 time; nil when absent.
    public static func time(_ request: Request, _ name: String) throws(Problem) -> Date? {
        guard let text = try request.queryText(name, maxCharacters: 64) else { return nil }
        guard let date = RFC3339.parse(text) else { throw invalid(name, "must be an RFC 3339 time such as 2026-12-01T00:00:00Z") }
        return date
    }

    /// Refuses the principal unless its role is one of `roles`.
    public static func require(_ principal: AdminPrincipal, _ roles: Set<AdminRole>, to action: String) throws(Problem) {
        guard roles.contains(principal.role) else {
            throw Problem.forbidden("\(action) needs one of the roles \(roles.map(\.rawValue).sorted().joined(separator: ", ")); this token is \(principal.role.rawValue)")
        }
    }

    /// `limit` (1…200, default 50).
    public static func limit(_ request: Request) throws(Problem) -> Int { try request.queryInteger("limit", default: 50, range: 1...200) }
}

/// A coding key for any member name, to list the members of a JSON object.
struct AnyMemberKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    /// Refuses a member of this JSON object outside `allowed`. `RequestInput.body` checks a body's
    /// top-level members; a nested object's `init(from:)` calls this, so an unknown member anywhere
    /// is a 400 naming its path.
    public func refuseUnknownMembers(_ allowed: Set<String>) throws {
        let members = try container(keyedBy: AnyMemberKey.self).allKeys.map(\.stringValue)
        if let unknown = members.sorted().first(where: { !allowed.contains($0) }), let key = AnyMemberKey(stringValue: unknown) {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: "\(unknown) is not a field of this object"))
        }
    }
}
