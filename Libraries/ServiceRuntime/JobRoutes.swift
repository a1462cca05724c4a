import Foundation
import Hummingbird
import Storage

/// `GET /admin/jobs/status`: every time-driven job of this service, with its last run, last
/// success and consecutive failures. Jobs serve every org and their rows hold no org data, so
/// any valid admin token may read them (as an operator's dashboard would).
enum JobRoutes {
    struct Status: Codable, ResponseEncodable {
        var service: String
        var jobs: [JobHeartbeats.Beat]
    }

    static func add(to router: Router<ServiceRequestContext>, dependencies: ServiceDependencies) {
        let tokens = AdminTokens(secret: dependencies.configuration.adminTokenSecret)
        let heartbeats = JobHeartbeats(schema: dependencies.schema)
        router.get("admin/jobs/status") { request, context -> Status in
            guard let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") else {
                throw Problem.unauthorized("send an admin token as 'Authorization: Bearer <token>'")
            }
            _ = try tokens.verify(String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces))
            let jobs = try await heartbeats.all(client: dependencies.client, logger: context.logger)
            return Status(service: dependencies.configuration.serviceName, jobs: jobs)
        }
    }
}
