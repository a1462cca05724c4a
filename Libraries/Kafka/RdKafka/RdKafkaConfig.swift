import CRdKafka

/// Builds a `rd_kafka_conf_t` from key/value pairs. Ownership of the C object passes to
/// `rd_kafka_new` on success; `destroy()` must be called otherwise.
struct RdKafkaConfig: ~Copyable {
    let pointer: OpaquePointer

    init(_ properties: [(String, String)]) throws(KafkaError) {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(.configuration, "rd_kafka_conf_new returned NULL")
        }
        var errorBuffer = [CChar](repeating: 0, count: 512)
        for (key, value) in properties {
            let result = rd_kafka_conf_set(conf, key, value, &errorBuffer, errorBuffer.count)
            guard result == RD_KAFKA_CONF_OK else {
                let reason = String(errorBuffer: errorBuffer)
                rd_kafka_conf_destroy(conf)
                throw KafkaError(.configuration, "setting \(key): \(reason)")
            }
        }
        self.pointer = conf
    }

    /// Releases the configuration when it was not handed to `rd_kafka_new`.
    consuming func destroy() { rd_kafka_conf_destroy(pointer) }
}

/// Creates a client handle, taking ownership of `config`.
func makeRdKafkaHandle(type: rd_kafka_type_t, config: consuming RdKafkaConfig) throws(KafkaError) -> OpaquePointer {
    var errorBuffer = [CChar](repeating: 0, count: 512)
    let conf = config.pointer
    guard let handle = rd_kafka_new(type, conf, &errorBuffer, errorBuffer.count) else {
        rd_kafka_conf_destroy(conf)
        let reason = String(errorBuffer: errorBuffer)
        throw KafkaError(.clientCreation, "rd_kafka_new: \(reason)")
    }
    return handle
}

/// Destroys a client handle, then releases the callback context its opaque pointer holds
/// (`RdKafkaCallbackContext.install` retains it for the handle): librdkafka's threads can call
/// the log and error callbacks until `rd_kafka_destroy` returns, even if the Swift object that
/// made the client is gone by then.
func destroyRdKafkaHandle(_ handle: OpaquePointer) {
    let opaque = rd_kafka_opaque(handle)
    rd_kafka_destroy(handle)
    if let opaque { Unmanaged<RdKafkaCallbackContext>.fromOpaque(opaque).release() }
}

extension String {
    /// The text librdkafka wrote into a NUL-terminated error buffer.
    init(errorBuffer: [CChar]) {
        self.init(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
