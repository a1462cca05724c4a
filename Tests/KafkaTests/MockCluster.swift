import CRdKafka
import Foundation
import Kafka

/// librdkafka's in-process mock cluster: real Kafka protocol, no broker process.
final class MockCluster: @unchecked Sendable {
    private let host: OpaquePointer
    private let cluster: OpaquePointer
    let bootstrapServers: String

    init(brokers: Int32 = 1) throws {
        let conf = rd_kafka_conf_new()
        var errors = [CChar](repeating: 0, count: 256)
        _ = rd_kafka_conf_set(conf, "log_level", "3", &errors, errors.count)
        guard let host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errors, errors.count) else {
            throw KafkaError(.clientCreation, "mock host: \(String(decoding: errors.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        guard let cluster = rd_kafka_mock_cluster_new(host, brokers) else {
            rd_kafka_destroy(host)
            throw KafkaError(.clientCreation, "mock cluster could not be created")
        }
        self.host = host
        self.cluster = cluster
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    func createTopic(_ name: String, partitions: Int32) {
        _ = rd_kafka_mock_topic_create(cluster, name, partitions, 1)
    }

    func setBroker(_ id: Int32, up: Bool) {
        if up { _ = rd_kafka_mock_broker_set_up(cluster, id) } else { _ = rd_kafka_mock_broker_set_down(cluster, id) }
    }

    func destroy() {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(host)
    }

    var client: KafkaClientConfiguration {
        KafkaClientConfiguration(bootstrapServers: [bootstrapServers], clientID: "unit", statisticsInterval: nil)
    }
}

/// Runs `body` against a fresh mock cluster and always tears it down.
func withMockCluster<R>(brokers: Int32 = 1, _ body: (MockCluster) async throws -> R) async throws -> R {
    let cluster = try MockCluster(brokers: brokers)
    do {
        let result = try await body(cluster)
        cluster.destroy()
        return result
    } catch {
        cluster.destroy()
        throw error
    }
}
