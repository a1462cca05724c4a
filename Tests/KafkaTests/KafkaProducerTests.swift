import CRdKafka
import Foundation
import Logging
import Testing

@testable import Kafka

let quietLogger: Logger = {
    var logger = Logger(label: "kafka-tests")
    logger.logLevel = .error
    return logger
}()

@Suite("Producer on the mock cluster")
struct KafkaProducerTests {
    @Test func everyMessageGetsExactlyOneDeliveryReport() async throws {
        try await withMockCluster { cluster in
            cluster.createTopic("orders", partitions: 3)
            let producer = try KafkaProducer(configuration: .init(client: cluster.client), logger: quietLogger)
            let messages = (0..<300).map { KafkaProducerMessage(topic: "orders", key: "order-\($0 % 7)", value: Array("v\($0)".utf8)) }
            let reports = try await producer.sendAll(messages)
            await producer.shutdown()

            #expect(reports.count == 300)
            // Offsets in each partition are unique and contiguous from 0: nothing doubled, nothing lost.
            for (_, partitionReports) in Dictionary(grouping: reports, by: \.partition) {
                #expect(partitionReports.map(\.offset.rawValue).sorted() == Array(0..<Int64(partitionReports.count)))
            }
            // The same key always lands on the same partition.
            var partitionOfKey: [String: KafkaPartition] = [:]
            for (message, report) in zip(messages, reports) {
                let key = String(decoding: message.key!, as: UTF8.self)
                #expect(partitionOfKey[key, default: report.partition] == report.partition)
                partitionOfKey[key] = report.partition
            }
        }
    }

    @Test func inFlightMessagesNeverExceedTheLimit() async throws {
        try await withMockCluster { cluster in
            cluster.createTopic("bounded", partitions: 1)
            let producer = try KafkaProducer(configuration: .init(client: cluster.client, maxInFlightMessages: 8), logger: quietLogger)
            let sampler = Task {
                var highest = 0
                while !Task.isCancelled {
                    highest = max(highest, producer.inFlightCount)
                    await Task.yield()
                }
                return highest
            }
            let reports = try await producer.sendAll((0..<400).map { KafkaProducerMessage(topic: "bounded", value: Array("\($0)".utf8)) })
            sampler.cancel()
            let highest = await sampler.value
            await producer.shutdown()

            #expect(reports.count == 400)
            #expect(highest <= 8)
            #expect(highest > 0)
        }
    }

    @Test func shutdownFailsWhatCannotBeDeliveredExactlyOnce() async throws {
        try await withMockCluster { cluster in
            cluster.createTopic("stuck", partitions: 1)
            let producer = try KafkaProducer(configuration: .init(client: cluster.client), logger: quietLogger)
            _ = try await producer.send(KafkaProducerMessage(topic: "stuck", value: Array("warm-up".utf8)))
            cluster.setBroker(1, up: false)

            let outcomes = Task {
                await withTaskGroup(of: Bool.self) { group in
                    for index in 0..<20 {
                        group.addTask {
                            do { _ = try await producer.send(KafkaProducerMessage(topic: "stuck", value: Array("\(index)".utf8))); return true } catch { return false }
                        }
                    }
                    return await group.reduce(into: [Bool]()) { $0.append($1) }
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            await producer.shutdown(flushTimeout: .milliseconds(500))
            let results = await outcomes.value

            #expect(results.count == 20, "every send returned")
            #expect(results.allSatisfy { $0 == false }, "nothing reached a broker that is down")
            #expect(producer.inFlightCount == 0)
            do {
                _ = try await producer.send(KafkaProducerMessage(topic: "stuck", value: nil))
                Issue.record("send after shutdown must fail")
            } catch {
                #expect((error as? KafkaError)?.kind == .shutdown)
            }
        }
    }

    @Test func aFatalErrorIsSurvivedByRecreatingTheClient() async throws {
        try await withMockCluster { cluster in
            cluster.createTopic("fatal", partitions: 1)
            let producer = try KafkaProducer(configuration: .init(client: cluster.client), logger: quietLogger)
            _ = try await producer.send(KafkaProducerMessage(topic: "fatal", value: Array("before".utf8)))
            producer._injectFatalError(reason: "test")

            var recovered: KafkaDeliveryReport?
            let deadline = ContinuousClock.now + .seconds(10)
            while recovered == nil, ContinuousClock.now < deadline {
                do { recovered = try await producer.send(KafkaProducerMessage(topic: "fatal", value: Array("after".utf8))) } catch { try await Task.sleep(for: .milliseconds(100)) }
            }
            await producer.shutdown()
            #expect(recovered != nil, "a send succeeded after the fatal error")
        }
    }

    /// librdkafka's threads call the log callback until `rd_kafka_destroy` returns; the context
    /// they reach must outlive the Swift object that made the client (e.g. an admin dropped
    /// without `close()`), or the callback writes into freed memory.
    @Test func aClientKeepsItsCallbackContextAliveUntilItIsDestroyed() throws {
        weak var weakContext: RdKafkaCallbackContext?
        let handle: OpaquePointer = try {
            let context = RdKafkaCallbackContext(logger: quietLogger, clientID: "lifetime", clientType: "producer")
            weakContext = context
            let config = try RdKafkaConfig([("bootstrap.servers", "127.0.0.1:1")])
            context.install(on: config.pointer)
            return try makeRdKafkaHandle(type: RD_KAFKA_PRODUCER, config: config)
        }()
        #expect(weakContext != nil, "the client holds its context")
        destroyRdKafkaHandle(handle)
        #expect(weakContext == nil, "destroying the client releases it")
    }

    @Test func anUnknownConfigurationKeyIsRefusedByName() throws {
        let configuration = KafkaProducerConfiguration(client: .init(bootstrapServers: ["127.0.0.1:1"], additional: ["no.such.key": "1"]))
        #expect {
            _ = try KafkaProducer(configuration: configuration, logger: quietLogger)
        } throws: { error in
            (error as? KafkaError)?.kind == .configuration && "\(error)".contains("no.such.key")
        }
    }

    @Test func theLoadedLibrdkafkaIsRecent() {
        #expect(KafkaLibrary.isSupportedVersion, "loaded librdkafka \(KafkaLibrary.version); run `make bootstrap`")
    }
}
