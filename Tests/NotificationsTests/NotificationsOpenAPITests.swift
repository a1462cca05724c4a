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
        let routed = try OpenAPIAgreement.routedOperations(of: NotificationsService.definition())
        #expect(documented.contains("POST /admin/orgs/{org}/deliveries/{id}/replay"))
        #expect(documented.contains("GET /admin/jobs/status"))
        #expect(routed == documented, "routed only: \(routed.subtracting(documented).sorted()); documented only: \(documented.subtracting(routed).sorted())")
    }
}
