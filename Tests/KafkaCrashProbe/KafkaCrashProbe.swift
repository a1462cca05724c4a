import Foundation
import Kafka
import Logging

/// A consumer that records each applied message in an effects file and can die abruptly
/// (process exit, no close) after a chosen number of messages: the subject of the
/// consumer-crash integration test.
///
/// Usage: KafkaCrashProbe <brokers> <topic> <group> <effects-file> <mode> <die-after> <idle-exit-seconds>
///   mode: `apply-then-store` (correct) or `store-then-apply` (the fault the test must catch)
///   die-after: exit with status 3 once at least this many messages are applied and the
///     batch in hand still has messages left (so the death is mid-batch); 0 never dies
///   idle-exit-seconds: close gracefully after this long without a message (once one arrived)
@main
struct KafkaCrashProbe {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 8, let dieAfter = Int(arguments[6]), let idleExit = Double(arguments[7]) else {
            FileHandle.standardError.write(Data("usage: KafkaCrashProbe <brokers> <topic> <group> <effects> <mode> <die-after> <idle-seconds>\n".utf8))
            exit(2)
        }
        let (brokers, topic, group, effectsPath, mode) = (arguments[1], arguments[2], arguments[3], arguments[4], arguments[5])
        let storeFirst = mode == "store-then-apply"
        var logger = Logger(label: "crash-probe")
        logger.logLevel = .warning

        if !FileManager.default.fileExists(atPath: effectsPath) {
            _ = FileManager.default.createFile(atPath: effectsPath, contents: nil)
        }
        guard let effects = FileHandle(forWritingAtPath: effectsPath) else { exit(2) }
        effects.seekToEndOfFile()

        let configuration = KafkaConsumerConfiguration(
            client: .init(bootstrapServers: [brokers], clientID: "crash-probe", statisticsInterval: nil),
            groupID: group, topics: [topic],
            sessionTimeout: .seconds(6), heartbeatInterval: .milliseconds(500)
        )
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        var applied = 0

        let idleWatch = Task {
            // Ends the consumption loop once the probe owns partitions and no batch has
            // arrived for `idleExit` seconds (joining may take a session timeout), or after 90 s.
            var lastCount = -1
            var waited = 0.0
            while true {
                try await Task.sleep(for: .seconds(idleExit))
                waited += idleExit
                let count = ProbeProgress.shared.count
                let owning = !consumer.assignment.isEmpty || count > 0
                if (owning && count == lastCount) || waited > 90 { await consumer.close(); return }
                lastCount = owning ? count : -1
            }
        }

        for await batch in consumer.batches {
            ProbeProgress.shared.bump()
            FileHandle.standardError.write(Data("probe: batch of \(batch.messages.count) (\(batch.nextOffsets))\n".utf8))
            if storeFirst {
                try consumer.store(batch)
                try await consumer.commit()
            }
            for message in batch.messages {
                let line = "\(message.partition.rawValue):\(message.offset.rawValue):\(String(decoding: message.value ?? [], as: UTF8.self))\n"
                effects.write(Data(line.utf8))
                try effects.synchronize()
                if !storeFirst {
                    try consumer.store(message)
                    try await consumer.commit()
                }
                applied += 1
                if dieAfter > 0, applied >= dieAfter, message != batch.messages.last {
                    // Abrupt death in the middle of a batch: no close, no LeaveGroup.
                    exit(3)
                }
            }
        }
        idleWatch.cancel()
        exit(0)
    }
}

/// Counts batches so the idle watch can tell whether anything arrived.
final class ProbeProgress: @unchecked Sendable {
    static let shared = ProbeProgress()
    private let lock = NSLock()
    private var value = 0
    var count: Int { lock.withLock { value } }
    func bump() { lock.withLock { value += 1 } }
}
