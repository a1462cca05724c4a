import Contracts
import TallyTestSupport
import Testing

@testable import Notifications

/// `contracts/openapi/notifications.yaml` and the router agree: every route is documented and
/// every documented operation is served (no database is contacted).
@Suite("Notifications OpenAPI document")
struct NotificationsOpenAPITests {
    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationExists() throws {
        let documented = try OpenAPIAgreement.documentedOperations(of: .notifications)
        let definition = try NotificationsService.definition(settings: NotificationsSettings.forTests())
        let routed = try OpenAPIAgreement.routedOperations(of: definition)
        #expect(documented.contains("POST /admin/orgs/{org}/deliveries/{id}/replay"))
        #expect(documented.contains("GET /admin/jobs/status"))
        #expect(documented.contains("DELETE /admin/orgs/{org}/contacts/{provider}/{customer_id}"))
        #expect(routed == documented, "routed only: \(routed.subtracting(documented).sorted()); documented only: \(documented.subtracting(routed).sorted())")
    }
}
