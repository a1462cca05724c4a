import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Prometheus
import Testing

@testable import ServiceRuntime

@Suite("Health, readiness and metrics routes")
struct ReadinessTests {
    func app(databaseUp: Bool) -> some ApplicationProtocol {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "probe", unitName: "total", helpText: "A counter the metrics route must show.")).increment()
        OperationalRoutes.add(
            to: router,
            checks: [
                ReadinessCheck(name: "database") { if !databaseUp { throw ReadinessFailure("connection refused") } },
                ReadinessCheck(name: "broker") {},
                ReadinessCheck(name: "consumer") { try await Task.sleep(for: .seconds(5)) },
            ], registry: registry)
        return Application(router: router)
    }

    @Test func readyzNamesEveryFailingCheck() async throws {
        try await app(databaseUp: false).test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.contentType] == "application/problem+json")
                let problem = try JSONDecoder().decode(Problem.self, from: Data(buffer: response.body))
                #expect(problem.detail == "failing checks: consumer, database")
                #expect(problem.extensions?["database"] == "connection refused")
                #expect(problem.extensions?["consumer"] == "timed out after 2 s")
                #expect(problem.extensions?["broker"] == "ok")
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok, "alive even when not ready")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(String(buffer: response.body).contains("probe_total 1"))
            }
            try await client.execute(uri: "/no-such-route", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentType] == "application/problem+json")
            }
        }
    }
}

@Suite("Problem+JSON for errors a handler throws")
struct ProblemMiddlewareTests {
    struct Unexpected: Error {}

    @Test func anUnreachableDatabaseIsA503WithRetryAfterAndAnythingElseA500() async throws {
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        router.get("database-down") { _, _ -> String in throw ChannelError.ioOnClosedChannel }
        router.get("bug") { _, _ -> String in throw Unexpected() }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/database-down", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "2")
                let problem = try JSONDecoder().decode(Problem.self, from: Data(buffer: response.body))
                #expect(problem.type.hasSuffix("/unavailable"))
            }
            try await client.execute(uri: "/bug", method: .get) { response in
                #expect(response.status == .internalServerError)
                #expect(response.headers[.retryAfter] == nil)
            }
        }
    }
}
