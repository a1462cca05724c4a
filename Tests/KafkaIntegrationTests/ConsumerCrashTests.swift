import Foundation
import Kafka
import Testing

/// A consumer process killed mid-batch, then replaced: only what it had not committed is
/// redelivered. The same scenario with offsets stored before effects must be caught as a loss.
@Suite("Consumer crash and replacement", .enabled(if: TestBroker.enabled), .serialized)
struct ConsumerCrashTests {
    struct Outcome {
        var appliedByVictim: [String]
        var appliedByReplacement: [String]
        var expected: [String]
        var all: [String] { appliedByVictim + appliedByReplacement }
        var lost: Set<String> { Set(expected).subtracting(all) }
        var duplicated: [String] { Dictionary(grouping: all, by: { $0 }).filter { $0.value.count > 1 }.map(\.key) }
    }

    func run(mode: String) async throws -> Outcome {
        let topic = try await TestBroker.freshTopic("crash", partitions: 3)
        let group = "g-\(topic)"
        let expected = (0..<90).map { "fact-\($0)" }
        _ = try await TestBroker.produce(expected, to: topic)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let victimEffects = folder.appendingPathComponent("victim.txt").path
        let replacementEffects = folder.appendingPathComponent("replacement.txt").path

        let victimStatus = try runProbe(topic: topic, group: group, effects: victimEffects, mode: mode, dieAfter: 25, idleSeconds: 20)
        #expect(victimStatus == 3, "the victim died mid-batch")
        let replacementStatus = try runProbe(topic: topic, group: group, effects: replacementEffects, mode: mode, dieAfter: 0, idleSeconds: 4)
        #expect(replacementStatus == 0)

        return Outcome(appliedByVictim: try effects(victimEffects), appliedByReplacement: try effects(replacementEffects), expected: expected)
    }

    @Test func onlyUncommittedMessagesAreRedeliveredToTheReplacement() async throws {
        let outcome = try await run(mode: "apply-then-store")
        #expect(outcome.appliedByVictim.count >= 25 && outcome.appliedByVictim.count < 90)
        #expect(outcome.lost.isEmpty, "lost: \(outcome.lost.sorted())")
        #expect(outcome.duplicated.isEmpty, "applied twice: \(outcome.duplicated.sorted())")
        #expect(outcome.appliedByReplacement.count == 90 - outcome.appliedByVictim.count)
    }

    @Test func storingOffsetsBeforeEffectsIsCaughtAsLoss() async throws {
        // Negative control: the same checker must see the loss this fault causes.
        let outcome = try await run(mode: "store-then-apply")
        #expect(outcome.appliedByVictim.count >= 25 && outcome.appliedByVictim.count < 90)
        #expect(!outcome.lost.isEmpty, "committing before applying loses the rest of the batch")
    }

    private func effects(_ path: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try String(contentsOfFile: path, encoding: .utf8)
            .split(separator: "\n")
            .map { line in String(line.split(separator: ":", maxSplits: 2).last ?? "") }
    }

    private func runProbe(topic: String, group: String, effects: String, mode: String, dieAfter: Int, idleSeconds: Int) throws -> Int32 {
        let process = Process()
        process.executableURL = try probeExecutable()
        process.arguments = [TestBroker.bootstrapServers ?? "", topic, group, effects, mode, String(dieAfter), String(idleSeconds)]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    private func probeExecutable() throws -> URL {
        let candidates = [
            Bundle.main.executableURL?.deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL.deletingLastPathComponent(),
        ].compactMap { $0 }
        for folder in candidates {
            let url = folder.appendingPathComponent("KafkaCrashProbe")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw KafkaError(.invalidArgument, "KafkaCrashProbe executable not found next to \(candidates.map(\.path))")
    }
}
