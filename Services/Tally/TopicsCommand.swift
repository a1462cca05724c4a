import ArgumentParser
import Kafka

/// `tally topics`: every topic with its partitions and their watermarks.
struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "topics", abstract: "List topics, partitions and high watermarks.")
    @OptionGroup var broker: BrokerOptions

    func run() async throws {
        let (topics, marks) = try await broker.withAdmin { admin in
            let topics = try await admin.topics()
            let partitions = topics.flatMap { topic in topic.partitions.map { KafkaTopicPartition(topic: topic.name, partition: $0) } }
            return (topics, try await admin.watermarks(partitions))
        }
        var rows: [[String]] = []
        for topic in topics {
            let perPartition = topic.partitions.compactMap { marks[KafkaTopicPartition(topic: topic.name, partition: $0)] }
            let messages = perPartition.reduce(Int64(0)) { $0 + ($1.high.rawValue - $1.low.rawValue) }
            let highs = perPartition.map { String($0.high.rawValue) }.joined(separator: ",")
            rows.append([topic.name, String(topic.partitions.count), String(messages), highs])
        }
        printTable(["TOPIC", "PARTITIONS", "MESSAGES", "HIGH WATERMARKS"], rows)
    }
}

/// `tally groups`: every consumer group and its state.
struct GroupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "groups", abstract: "List consumer groups and their state.")
    @OptionGroup var broker: BrokerOptions

    func run() async throws {
        let rows = try await broker.withAdmin { admin in
            var rows: [[String]] = []
            for group in try await admin.listGroups() {
                let description = try await admin.describeGroup(group.groupID)
                rows.append([group.groupID, description.state.rawValue, String(description.members.count)])
            }
            return rows
        }
        printTable(["GROUP", "STATE", "MEMBERS"], rows)
    }
}

/// `tally lag`: committed offset, high watermark and lag per group and partition.
struct LagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lag", abstract: "Show consumer lag per group and partition.")
    @OptionGroup var broker: BrokerOptions
    @Option(name: .long, help: "Only this group (default: every group).")
    var group: String?

    func run() async throws {
        let rows = try await broker.withAdmin { admin in
            let groups: [String]
            if let group { groups = [group] } else { groups = try await admin.listGroups().map(\.groupID) }
            var rows: [[String]] = []
            for groupID in groups {
                for entry in try await admin.lag(group: groupID) {
                    rows.append([
                        groupID, entry.topicPartition.topic, entry.topicPartition.partition.description,
                        entry.committed.description, entry.watermarks.high.description, String(entry.lag),
                    ])
                }
            }
            return rows
        }
        printTable(["GROUP", "TOPIC", "PARTITION", "COMMITTED", "HIGH", "LAG"], rows)
    }
}
