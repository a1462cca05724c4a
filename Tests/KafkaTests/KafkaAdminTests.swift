import Foundation
@testable import Kafka
import Synchronization
import Testing

@Suite struct KafkaAdminTests {
    /// A readiness probe can still be asking the broker for metadata when the service shuts
    /// down and closes its admin: the close must wait for it, and later requests must fail
    /// instead of using a destroyed handle.
    @Test func closingWaitsForTheRequestInFlightAndRefusesLaterOnes() async throws {
        // Nothing listens on port 1, so the metadata request blocks for its whole timeout.
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: ["127.0.0.1:1"]), logger: quietLogger, requestTimeout: .seconds(2))
        let events = Mutex<[String]>([])
        let request = Task {
            let outcome: String
            do {
                _ = try await admin.topics()
                outcome = "answered"
            } catch {
                outcome = "failed: \((error as? KafkaError)?.kind.rawValue ?? "\(error)")"
            }
            events.withLock { $0.append("request \(outcome)") }
        }
        try await Task.sleep(for: .milliseconds(300))
        await admin.close()
        events.withLock { $0.append("closed") }
        await request.value
        #expect(events.withLock { $0 } == ["request failed: timeout", "closed"] || events.withLock { $0 } == ["request failed: admin", "closed"])

        await #expect {
            _ = try await admin.topics()
        } throws: { error in
            (error as? KafkaError)?.kind == .shutdown
        }
        await admin.close()  // a second close does nothing
    }
}
