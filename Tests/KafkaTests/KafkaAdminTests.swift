import Dispatch
import Synchronization
import Testing

@testable import Kafka

@Suite struct KafkaAdminTests {
    /// A readiness probe can still be inside a librdkafka request when the service shuts down
    /// and closes its admin: closing must wait for it, and later calls must be refused.
    @Test func closingWaitsForTheCallInsideAndRefusesLaterCalls() async throws {
        let gate = RdKafkaHandleGate(clientDescription: "test client")
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let answer = Mutex<Int?>(nil)
        // The call blocks a plain thread, as librdkafka's requests do, not the cooperative pool.
        DispatchQueue.global().async {
            let value = try? gate.enter { () throws(KafkaError) -> Int in
                entered.signal()
                release.wait()
                return 7
            }
            answer.withLock { $0 = value }
        }
        await Self.wait(for: entered)

        let closed = Mutex(false)
        let closer = Task {
            let closedIt = await gate.close()
            closed.withLock { $0 = true }
            return closedIt
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(closed.withLock { $0 } == false, "close waits while a call is inside")
        #expect(gate.isClosing)
        #expect(throws: KafkaError.self, "no new call is admitted once closing started") {
            try gate.enter { () throws(KafkaError) -> Int in 1 }
        }

        release.signal()
        #expect(await closer.value == true, "the first close is the one that may destroy the handle")
        #expect(answer.withLock { $0 } == 7, "the call inside finished normally")
        #expect(await gate.close() == false, "a second close does nothing")
    }

    @Test func anAdminRefusesRequestsAfterItWasClosed() async throws {
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: ["127.0.0.1:1"]), logger: quietLogger, requestTimeout: .seconds(1))
        await admin.close()
        await #expect {
            _ = try await admin.topics()
        } throws: { error in
            (error as? KafkaError)?.kind == .shutdown
        }
        await admin.close()
    }

    private static func wait(for semaphore: DispatchSemaphore) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                semaphore.wait()
                continuation.resume()
            }
        }
    }
}
