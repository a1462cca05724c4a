import ArgumentParser
import Contracts
import Foundation
import Kafka

/// `tally replay`: move a consumer group's committed offsets back (or forward) so it
/// re-consumes from a time or an offset. Dry run by default; `--execute` applies the change and
/// is refused while the group has active members.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Reset a consumer group's offsets to a time or an offset (dry run unless --execute)."
    )
    @OptionGroup var broker: BrokerOptions
    @Option(name: .long, help: "The consumer group to move.")
    var group: String
    @Option(name: .long, help: "Re-consume from this RFC 3339 time, e.g. 2026-11-22T08:00:00Z.")
    var toTime: String?
    @Option(name: .long, help: "Set every selected partition to this offset.")
    var toOffset: Int64?
    @Option(name: .long, parsing: .upToNextOption, help: "Topics to move (default: every topic the group has committed on).")
    var topic: [String] = []
    @Flag(name: .long, help: "Apply the change. Without it nothing is modified.")
    var execute = false

    func validate() throws {
        guard (toTime == nil) != (toOffset == nil) else {
            throw ValidationError("give exactly one of --to-time or --to-offset")
        }
        if let toTime, RFC3339.parse(toTime) == nil {
            throw ValidationError("--to-time '\(toTime)' is not an RFC 3339 time such as 2026-11-22T08:00:00Z")
        }
        if let toOffset, toOffset < 0 { throw ValidationError("--to-offset must not be negative") }
    }

    func run() async throws {
        try await broker.withAdmin { admin in try await replay(using: admin) }
    }

    private func replay(using admin: KafkaAdmin) async throws {
        let committed = try await admin.committedOffsets(group: group)
        let topics = topic.isEmpty ? Array(Set(committed.map(\.topic))).sorted() : topic
        guard !topics.isEmpty else {
            throw CommandFailure("group \(group) has no committed offsets; name the topics with --topic")
        }
        let targets: [KafkaTopicPartitionOffset]
        if let toTime, let time = RFC3339.parse(toTime) {
            targets = try await admin.offsets(at: time, topics: topics)
        } else {
            let all = try await admin.topics()
            targets = topics.flatMap { name in
                (all.first { $0.name == name }?.partitions ?? []).map {
                    KafkaTopicPartitionOffset(topic: name, partition: $0, offset: KafkaOffset(toOffset ?? 0))
                }
            }
        }
        let marks = try await admin.watermarks(targets.map(\.topicPartition))
        // Offsets are clamped to what the partition still holds.
        let clamped = targets.map { target -> KafkaTopicPartitionOffset in
            guard let mark = marks[target.topicPartition] else { return target }
            let offset = min(max(target.offset.rawValue, mark.low.rawValue), mark.high.rawValue)
            return KafkaTopicPartitionOffset(topicPartition: target.topicPartition, offset: KafkaOffset(offset))
        }
        let description = try await admin.describeGroup(group)

        var rows: [[String]] = []
        var redelivered: Int64 = 0
        for target in clamped.sorted(by: { $0.topicPartition < $1.topicPartition }) {
            let current = committed.first { $0.topicPartition == target.topicPartition }?.offset ?? .invalid
            let high = marks[target.topicPartition]?.high.rawValue ?? 0
            let change = current.isConcrete ? current.rawValue - target.offset.rawValue : high - target.offset.rawValue
            redelivered += max(0, high - target.offset.rawValue)
            rows.append([target.topic, target.partition.description, current.description, target.offset.description, String(change)])
        }
        print("group \(group): state \(description.state.rawValue), \(description.members.count) member(s)")
        printTable(["TOPIC", "PARTITION", "COMMITTED", "NEW", "REPLAYED"], rows)
        print("messages the group will consume after the change: \(redelivered)")

        guard execute else {
            print("dry run: nothing changed. Re-run with --execute to apply.")
            return
        }
        var refusal: KafkaError?
        do {
            try await admin.alterGroupOffsets(group: group, to: clamped)
        } catch {
            refusal = error
        }
        if let refusal {
            guard refusal.kind == .groupActive else { throw refusal }
            throw CommandFailure("refused: \(refusal.message)")
        }
        print("applied: group \(group) will re-consume from the offsets above when it starts.")
    }
}
