import Contracts
import Foundation
import Hummingbird
import ServiceRuntime
import Storage
import WebhookSignatures

/// Admin routes for sources, under `/admin/orgs/{org}/sources`. A new or rotated secret is in
/// the response of that one request and never again; every change is audited.
struct SourceRoutes: Sendable {
    let sources: SourceStore

    struct CreateRequest: Decodable {
        var provider: String
        var name: String
        var toleranceSeconds: Int?
        /// The provider's secret (Stripe, Paddle and Hotmart generate their own); omitted, one is generated.
        var secret: String?
        enum CodingKeys: String, CodingKey { case provider, name, toleranceSeconds = "tolerance_seconds", secret }
    }

    struct CreatedSource: Encodable, ResponseEncodable {
        var source: Source
        var secret: String
        var webhookPath: String
        enum CodingKeys: String, CodingKey { case source, secret, webhookPath = "webhook_path" }
    }

    struct RotateRequest: Decodable {
        var secret: String?
        /// How long the current secrets stay valid, in seconds (default 24 h, at most 30 days).
        var previousValidForSeconds: Int?
        enum CodingKeys: String, CodingKey { case secret, previousValidForSeconds = "previous_valid_for_seconds" }
    }

    struct RotatedSecret: Encodable, ResponseEncodable {
        var secret: String
        var previousSecretsExpireAt: String
        enum CodingKeys: String, CodingKey { case secret, previousSecretsExpireAt = "previous_secrets_expire_at" }
    }

    struct SourceList: Encodable, ResponseEncodable { var sources: [Source] }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.post("sources") { request, context -> EditedResponse<CreatedSource> in
            let principal = try context.requirePrincipal()
            let input = try await request.decode(as: CreateRequest.self, context: context)
            guard let provider = WebhookProvider(rawValue: input.provider) else {
                throw Problem.badRequest("provider must be one of \(WebhookProvider.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let tolerance = input.toleranceSeconds ?? 300
            guard (1...3600).contains(tolerance) else { throw Problem.badRequest("tolerance_seconds must be between 1 and 3600") }
            guard !input.name.isEmpty, input.name.unicodeScalars.count <= 200 else { throw RequestInput.invalid("name", "must be 1 to 200 characters") }
            _ = try RequestInput.text(input.name, field: "name")
            if let secret = input.secret { try Self.check(secret: secret) }
            let org = try principal.tenant()
            let (source, secret) = try await sources.create(
                org: org, provider: provider, name: input.name, toleranceSeconds: tolerance, secret: input.secret, actor: principal.subject)
            return EditedResponse(status: .created, response: CreatedSource(source: source, secret: secret, webhookPath: "/webhooks/\(source.id)"))
        }
        admin.get("sources") { _, context -> SourceList in
            SourceList(sources: try await sources.list(org: try context.requirePrincipal().tenant()))
        }
        admin.post("sources/:sourceID/disable") { _, context -> Source in
            let principal = try context.requirePrincipal()
            let org = try principal.tenant()
            let id = context.parameters.get("sourceID") ?? ""
            guard let disabled = try await sources.disable(org: org, id: id, actor: principal.subject) else { throw Problem.notFound("no source \(id) in this org") }
            return disabled
        }
        admin.post("sources/:sourceID/rotate") { request, context -> RotatedSecret in
            let principal = try context.requirePrincipal()
            let org = try principal.tenant()
            let id = context.parameters.get("sourceID") ?? ""
            // No body means the defaults; a body that is there must be a valid request.
            let body = try await request.body.collect(upTo: 64 * 1024)
            let input = body.readableBytes == 0 ? RotateRequest() : try Self.decode(RotateRequest.self, from: body)
            if let secret = input.secret { try Self.check(secret: secret) }
            let validFor = input.previousValidForSeconds ?? 86_400
            guard (0...2_592_000).contains(validFor) else { throw Problem.badRequest("previous_valid_for_seconds must be between 0 and 2592000") }
            let expireAt = Date().addingTimeInterval(TimeInterval(validFor))
            guard let secret = try await sources.rotate(org: org, id: id, newSecret: input.secret, previousExpireAt: expireAt, actor: principal.subject) else {
                throw Problem.notFound("no source \(id) in this org")
            }
            return RotatedSecret(secret: secret, previousSecretsExpireAt: RFC3339.string(expireAt))
        }
    }

    /// A secret given by the caller: long enough to be a key, and storable.
    static func check(secret: String) throws(Problem) {
        guard secret.utf8.count >= 8 else { throw RequestInput.invalid("secret", "must be at least 8 bytes") }
        guard secret.utf8.count <= 1024 else { throw RequestInput.invalid("secret", "must be at most 1024 bytes") }
        _ = try RequestInput.text(secret, field: "secret", maxCharacters: 256)
    }

    /// Decodes a JSON body, refusing it with 400 naming what is wrong.
    static func decode<T: Decodable>(_ type: T.Type, from body: ByteBuffer) throws(Problem) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(buffer: body))
        } catch {
            throw Problem.badRequest("the body is not a valid request: \(DecodingFailure.describe(error))")
        }
    }

}

extension Source: ResponseEncodable {}
