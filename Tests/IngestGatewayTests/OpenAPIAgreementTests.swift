import Crypto
import Foundation
import Hummingbird
import Kafka
import Logging
import PostgresNIO
import Prometheus
import ServiceRuntime
import Storage
import TallyTestSupport
import Testing

@testable import IngestGateway

/// `contracts/openapi/ingest-gateway.yaml` and the gateway's router list the same operations.
@Suite("Gateway OpenAPI document")
struct OpenAPIAgreementTests {
    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationExists() throws {
        let documented = try OpenAPIAgreement.documentedOperations(of: .ingestGateway)
        let routed = try OpenAPIAgreement.routedOperations(of: IngestGatewayService.definition(GatewaySettings(box: SecretBox(key: SymmetricKey(size: .bits256)))))
        #expect(documented.count >= 13)
        #expect(routed.subtracting(documented).isEmpty, "routes missing from the OpenAPI document: \(routed.subtracting(documented).sorted())")
        #expect(documented.subtracting(routed).isEmpty, "documented operations with no route: \(documented.subtracting(routed).sorted())")
    }
}
