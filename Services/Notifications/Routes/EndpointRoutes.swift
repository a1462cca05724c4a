import Foundation
import Hummingbird
import ServiceRuntime
import Storage

/// The org's webhook endpoints under `/admin/orgs/{org}/webhook-endpoints`: every role reads;
/// owner and admin create, disable and enable them (audited). A URL is refused at creation when
/// it breaks the URL rule or its host is or resolves to a refused address (loopback, private,
/// link-local, CGNAT, multicast, metadata…); the check is made again before every send. The
/// signing secret is in the creation answer only.
struct EndpointRoutes: Sendable {
    let queries: NotificationQueries
    let audit: AuditLog
    let resolver: EndpointResolver
    let now: @Sendable () -> Date

    static let writers: Set<AdminRole> = [.owner, .admin]

    struct CreateRequest: Decodable {
        var url: String
        var description: String?
    }

    struct StatusRequest: Decodable {
        var reason: String?
    }

    struct Created: Encodable, ResponseEncodable {
        var endpoint: NotificationQueries.EndpointRow
        var secret: String

        func encode(to encoder: any Encoder) throws {
            try endpoint.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(secret, forKey: .secret)
        }
        enum CodingKeys: String, CodingKey { case secret }
    }

    struct List: Codable, ResponseEncodable {
        var endpoints: [NotificationQueries.EndpointRow]
    }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.post("webhook-endpoints") { request, context -> EditedResponse<Created> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, Self.writers, to: "registering a webhook endpoint")
            let org = try principal.tenant()
            let input = try await RequestInput.body(CreateRequest.self, from: request, allowed: ["url", "description"])
            guard let url = try RequestInput.text(input.url, field: "url", maxCharacters: 2048) else { throw RequestInput.invalid("url", "must be an https URL") }
            let description = try RequestInput.text(input.description, field: "description", maxCharacters: 200)
            try await checkURL(url)
            let id = "we_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(24)
            let secret = StandardWebhookSignature.newSecret()
            let time = now()
            let created = try await queries.inTenant(org) { _, connection in
                try await queries.insertEndpoint(org: org, id: id, url: url, secret: secret, description: description, now: time, connection: connection)
                guard let row = try await queries.endpoints(org: org, connection: connection, id: id).first else { throw Problem.notFound("the endpoint vanished") }
                try await audit.record(
                    org: org, actor: principal.subject, action: "webhook_endpoint.create", target: "webhook_endpoint:\(id)", before: NotificationQueries.EndpointRow?.none,
                    after: row,
                    correlationID: context.correlationID, on: connection, logger: context.logger)
                return row
            }
            return EditedResponse(status: .created, response: Created(endpoint: created, secret: secret))
        }
        admin.get("webhook-endpoints") { _, context -> List in
            let org = try context.requirePrincipal().tenant()
            return List(endpoints: try await queries.inTenant(org) { _, connection in try await queries.endpoints(org: org, connection: connection) })
        }
        admin.get("webhook-endpoints/:id") { _, context -> NotificationQueries.EndpointRow in
            let org = try context.requirePrincipal().tenant()
            let id = try Self.id(context)
            guard let row = try await queries.inTenant(org, { _, connection in try await queries.endpoints(org: org, connection: connection, id: id).first }) else {
                throw Problem.notFound("no webhook endpoint \(id) in this org")
            }
            return row
        }
        for (verb, active) in [("disable", false), ("enable", true)] {
            admin.post("webhook-endpoints/:id/\(verb)") { request, context -> NotificationQueries.EndpointRow in
                let principal = try context.requirePrincipal()
                try RequestInput.require(principal, Self.writers, to: "changing a webhook endpoint")
                let org = try principal.tenant()
                let id = try Self.id(context)
                let input = try await RequestInput.optionalBody(StatusRequest.self, from: request, allowed: ["reason"])
                let reason = try RequestInput.text(input?.reason, field: "reason", maxCharacters: 200)
                let time = now()
                return try await queries.inTenant(org) { _, connection in
                    guard let before = try await queries.endpoints(org: org, connection: connection, id: id).first else {
                        throw Problem.notFound("no webhook endpoint \(id) in this org")
                    }
                    // The host's addresses may have changed since it was registered.
                    if active { try await checkURL(before.url) }
                    try await queries.setEndpointStatus(org: org, id: id, active: active, reason: reason ?? "disabled by \(principal.subject)", now: time, connection: connection)
                    guard let after = try await queries.endpoints(org: org, connection: connection, id: id).first else { throw Problem.notFound("no webhook endpoint \(id)") }
                    try await audit.record(
                        org: org, actor: principal.subject, action: "webhook_endpoint.\(verb)", target: "webhook_endpoint:\(id)", before: before, after: after,
                        correlationID: context.correlationID, on: connection, logger: context.logger)
                    return after
                }
            }
        }
    }

    /// Refuses `url` when it breaks the URL rule or its host is, or resolves to, a refused
    /// address (422 naming the rule); a name that does not resolve now is let through (every send
    /// checks again).
    func checkURL(_ url: String) async throws(Problem) {
        if case .failure(let refusal) = await resolver.resolve(url), !refusal.isTransient {
            throw Problem(
                type: "endpoint-url-refused", title: "Endpoint URL refused", status: .unprocessableContent,
                detail: "url is refused: \(refusal.reason) (https only; no loopback, private, link-local, CGNAT, multicast or metadata address)",
                extensions: ["field": "url", "rule": refusal.reason])
        }
    }

    static func id(_ context: ServiceRequestContext) throws(Problem) -> String {
        guard let id = context.parameters.get("id"), id.count <= 64, id.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 }) else {
            throw Problem.notFound("no such webhook endpoint in this org")
        }
        return id
    }
}
