import Contracts
import Foundation
import Hummingbird
import ServiceRuntime
import Storage

/// A customer's contact details as notifications keeps them, under
/// `/admin/orgs/{org}/contacts/{provider}/{customer_id}`: owner, admin and support read them;
/// owner and admin erase them (audited with the counts, never the details). Erasure is what the
/// privacy service's commands will run too (issue 22); until then this route is how a person
/// honours a request.
struct ContactRoutes: Sendable {
    let queries: NotificationQueries
    let audit: AuditLog
    let now: @Sendable () -> Date

    struct ContactBody: Codable, ResponseEncodable {
        var customer: CustomerReference
        var email: String?
        var phone: String?
        var name: String?
        var locale: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(customer, forKey: .customer)
            try container.encode(email, forKey: .email)
            try container.encode(phone, forKey: .phone)
            try container.encode(name, forKey: .name)
            try container.encode(locale, forKey: .locale)
        }
    }

    struct ErasureBody: Codable, ResponseEncodable {
        var customer: CustomerReference
        var erased: NotificationsStore.Erasure
    }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("contacts/:provider/:customer_id") { _, context -> ContactBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin, .support], to: "reading contact details")
            let org = try principal.tenant()
            let customer = try Self.customer(context)
            guard let contact = try await queries.inTenant(org, { store, _ in try await store.contact(org: org, customer) }) else {
                throw Problem.notFound("no contact details for this customer in this org")
            }
            return ContactBody(customer: customer, email: contact.email, phone: contact.phone, name: contact.name, locale: contact.locale)
        }
        admin.delete("contacts/:provider/:customer_id") { _, context -> ErasureBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, [.owner, .admin], to: "erasing contact details")
            let org = try principal.tenant()
            let customer = try Self.customer(context)
            let time = now()
            return try await queries.inTenant(org) { store, connection in
                let erased = try await store.eraseCustomer(org: org, customer, now: time)
                try await audit.record(
                    org: org, actor: principal.subject, action: "contact.erase", target: "customer:\(customer.provider.rawValue):\(customer.customerID)",
                    before: NotificationsStore.Erasure?.none, after: erased, correlationID: context.correlationID, on: connection, logger: context.logger)
                return ErasureBody(customer: customer, erased: erased)
            }
        }
    }

    static func customer(_ context: ServiceRequestContext) throws(Problem) -> CustomerReference {
        guard let provider = context.parameters.get("provider").flatMap(WebhookProvider.init(rawValue:)),
            let id = context.parameters.get("customer_id"), !id.isEmpty, id.count <= 200, !id.unicodeScalars.contains("\u{0}")
        else {
            throw Problem.notFound("no such customer in this org")
        }
        return CustomerReference(provider: provider, customerID: id)
    }
}
