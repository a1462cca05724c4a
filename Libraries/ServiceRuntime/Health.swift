import Foundation
import Hummingbird
import Prometheus

/// One condition `/readyz` checks. The check throws (with a reason) when not ready.
public struct ReadinessCheck: Sendable {
    public let name: String
    public let check: @Sendable () async throws -> Void

    public init(name: String, check: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.check = check
    }
}

/// `/healthz`, `/readyz` and `/metrics`, the routes every service serves.
enum OperationalRoutes {
    static func add(to router: Router<ServiceRequestContext>, checks: [ReadinessCheck], registry: PrometheusCollectorRegistry) {
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"alive"}"#)))
        }
        router.get("/readyz") { _, _ in
            let results = await run(checks)
            let failing = results.filter { $0.value != "ok" }
            if failing.isEmpty {
                let body = try JSONSerialization.data(withJSONObject: ["status": "ready", "checks": results], options: [.sortedKeys])
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
            }
            return Problem(
                type: "not-ready", title: "Not ready", status: .serviceUnavailable,
                detail: "failing checks: \(failing.keys.sorted().joined(separator: ", "))", extensions: results
            ).response
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }

    /// Runs every check concurrently, each limited to two seconds; "ok" or the failure reason.
    static func run(_ checks: [ReadinessCheck]) async -> [String: String] {
        await withTaskGroup(of: (String, String).self) { group in
            for check in checks {
                group.addTask {
                    await withTaskGroup(of: String?.self) { race in
                        race.addTask {
                            do { try await check.check(); return "ok" } catch { return "\(error)" }
                        }
                        race.addTask {
                            try? await Task.sleep(for: .seconds(2))
                            return Task.isCancelled ? nil : "timed out after 2 s"
                        }
                        var outcome = "timed out after 2 s"
                        for await result in race {
                            if let result { outcome = result; break }
                        }
                        race.cancelAll()
                        return (check.name, outcome)
                    }
                }
            }
            var results: [String: String] = [:]
            for await (name, outcome) in group { results[name] = outcome }
            return results
        }
    }
}
