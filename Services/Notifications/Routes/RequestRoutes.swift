import Contracts
import Foundation
import Hummingbird
import ServiceRuntime
import Storage

/// `POST /admin/orgs/{org}/notifications`: a person asks for a notification (operator mail, a
/// manual reminder). The body is the data of `tally.notification.requested.v1`; it goes through
/// the same rules as a consumed request (one delivery per dedupe key): 202 with the new delivery,
/// 200 with the existing one. Owner, admin and support; audited.
struct RequestRoutes: Sendable {
    let queries: NotificationQueries
    let audit: AuditLog
    let handler: NotificationRequestedHandler

    static let fields: Set<String> = ["dedupe_key", "template_key", "channels", "recipient", "locale", "variables", "not_before"]

    struct Body: Decodable {
        var dedupeKey: String
        var templateKey: String
        var channels: [NotificationChannel]
        var recipient: NotificationRecipient
        var locale: String?
        var variables: [String: String]?
        var notBefore: String?
        enum CodingKeys: String, CodingKey {
            case dedupeKey = "dedupe_key", templateKey = "template_key", channels, recipient, locale, variables, notBefore = "not_before"
        }
    }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.post("notifications") { request, context -> EditedResponse<DeliveryBody> in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .support], to: "requesting a notification")
            let org = try principal.tenant()
            let body = try await RequestInput.body(Body.self, from: request, allowed: Self.fields)
            let requested = try Self.validate(body)
            let (record, created) = try await queries.inTenant(org) { store, connection in
                let accepted = try await handler.accept(
                    requested, org: org, causeEventID: "request:\(context.correlationID ?? UUID().uuidString.lowercased())",
                    correlationID: context.correlationID ?? UUID().uuidString.lowercased(), store: store)
                if accepted.created {
                    try await audit.record(
                        org: org, actor: principal.subject, action: "notification.request", target: "delivery:\(accepted.record.state.id.uuidString.lowercased())",
                        before: DeliveryBody?.none, after: DeliveryBody(accepted.record), correlationID: context.correlationID, on: connection, logger: context.logger)
                }
                return accepted
            }
            return EditedResponse(status: created ? .accepted : .ok, response: DeliveryBody(record))
        }
    }

    /// The body as a request, or 400 naming the field and the rule.
    static func validate(_ body: Body) throws(Problem) -> NotificationRequested {
        guard let dedupeKey = try RequestInput.text(body.dedupeKey, field: "dedupe_key", maxCharacters: 200) else {
            throw RequestInput.invalid("dedupe_key", "must be 1 to 200 characters")
        }
        guard let templateKey = try RequestInput.text(body.templateKey, field: "template_key", maxCharacters: 100) else {
            throw RequestInput.invalid("template_key", "must be 1 to 100 characters")
        }
        guard !body.channels.isEmpty, body.channels.count <= 3, Set(body.channels).count == body.channels.count else {
            throw RequestInput.invalid("channels", "must list 1 to 3 distinct channels of email, whatsapp, webhook")
        }
        guard (body.recipient.customer == nil) != (body.recipient.address == nil) else {
            throw RequestInput.invalid("recipient", "must name exactly one of customer and address")
        }
        if let customer = body.recipient.customer, try RequestInput.text(customer.customerID, field: "recipient.customer.customer_id", maxCharacters: 200) == nil {
            throw RequestInput.invalid("recipient.customer.customer_id", "must be 1 to 200 characters")
        }
        if let address = body.recipient.address {
            guard address.email != nil || address.phone != nil || address.endpointID != nil || address.name != nil else {
                throw RequestInput.invalid("recipient.address", "must hold at least one of email, phone, endpoint_id, name")
            }
            if let email = address.email, EmailMailbox(email) == nil || !EmailAddressRule.isValid(email) {
                throw RequestInput.invalid("recipient.address.email", "must be an ASCII address such as ana@example.com")
            }
            if let phone = address.phone, !PhoneNumberRule.isE164(phone) { throw RequestInput.invalid("recipient.address.phone", "must be E.164, e.g. +5511987654321") }
            for (field, value, limit) in [("endpoint_id", address.endpointID, 64), ("name", address.name, 200)] {
                if let value, try RequestInput.text(value, field: "recipient.address.\(field)", maxCharacters: limit) == nil {
                    throw RequestInput.invalid("recipient.address.\(field)", "must be 1 to \(limit) characters")
                }
            }
        }
        let locale = try RequestInput.text(body.locale, field: "locale", maxCharacters: 35)
        let variables = body.variables ?? [:]
        guard variables.count <= 50 else { throw RequestInput.invalid("variables", "must hold at most 50 values") }
        for (name, value) in variables {
            guard TemplateSyntax.isVariableName(name) else { throw RequestInput.invalid("variables", "names must match [a-z][a-z0-9_]*") }
            _ = try RequestInput.text(value, field: "variables.\(name)", maxCharacters: 2000)
        }
        let notBefore = try body.notBefore.map { text throws(Problem) in
            guard let date = RFC3339.parse(text) else { throw RequestInput.invalid("not_before", "must be an RFC 3339 time") }
            return date
        }
        return NotificationRequested(
            dedupeKey: dedupeKey, templateKey: templateKey, channels: body.channels, recipient: body.recipient, locale: locale, variables: variables,
            notBefore: notBefore, causeType: "operator")
    }
}
