import Foundation
import Kafka

#if canImport(Glibc)
    import Glibc
#endif

/// Polls `condition` every 100 ms until it holds or `limit` passes (then fails the test).
public func waitUntil(_ what: String, limit: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw StorageTestError("timed out waiting until \(what)")
}

/// A Tansu broker of the test's own, so the test can stop and restart it.
public final class TestTansu: @unchecked Sendable {
    public let binary: String
    public let port: Int
    private var process: Process?
    public var address: String { "127.0.0.1:\(port)" }

    public static func start() throws -> TestTansu {
        guard let binary = ProcessInfo.processInfo.environment["TALLY_TEST_TANSU"] else {
            throw StorageTestError("TALLY_TEST_TANSU is not set; run the tests with `make test`")
        }
        let broker = TestTansu(binary: binary, port: Int.random(in: 41_000..<49_000))
        try broker.restart()
        return broker
    }

    private init(binary: String, port: Int) {
        self.binary = binary
        self.port = port
    }

    /// Starts the broker and waits until it accepts connections on its port. A broker that
    /// exits at once (its port still held by the one just killed) is started again, for up to 30 s.
    public func restart() throws {
        let deadline = Date().addingTimeInterval(30)
        while true {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "broker", "--listener-url", "tcp://\(address)", "--advertised-listener-url", "tcp://\(address)", "--storage-engine", "memory://tansu/",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            var environment = ProcessInfo.processInfo.environment
            environment["NO_COLOR"] = "1"
            process.environment = environment
            try process.run()
            self.process = process
            while process.isRunning, Date() < deadline, !Self.accepts(port: port) { Thread.sleep(forTimeInterval: 0.1) }
            if process.isRunning, Self.accepts(port: port) {
                Thread.sleep(forTimeInterval: 0.3)
                return
            }
            stop()
            guard Date() < deadline else { throw StorageTestError("the test broker did not start listening on \(address) within 30 s") }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// Whether something accepts a TCP connection on 127.0.0.1:`port`.
    private static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// Kills the broker outright (SIGKILL: a child spawned from a Swift thread may have SIGTERM
    /// blocked) and waits until it is gone.
    public func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    }

    /// Creates `name` with three partitions. A broker that has just started may not have its
    /// controller yet (the request times out): that is tried again until 60 s have passed.
    public func createTopic(_ name: String) async throws {
        let admin = try KafkaAdmin(
            configuration: KafkaClientConfiguration(bootstrapServers: [address], clientID: "tansu-admin", statisticsInterval: nil), logger: TestDatabase.logger)
        let deadline = ContinuousClock.now + .seconds(60)
        var failure: (any Error)?
        var attempt = 0
        while true {
            attempt += 1
            do {
                _ = try await admin.createTopics([KafkaTopicSpecification(name: name, partitions: 3)])
                failure = nil
                break
            } catch  where attempt > 1 && String(describing: error).contains("ALREADY_EXISTS") {
                failure = nil  // an attempt that timed out created it after all
                break
            } catch {
                failure = error
                guard ContinuousClock.now < deadline, String(describing: error).contains("_TIMED_OUT") else { break }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        await admin.close()
        if let failure { throw failure }
    }
}
