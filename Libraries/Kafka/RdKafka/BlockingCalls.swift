import Dispatch

/// Runs librdkafka calls that block (flush, close, admin requests, metadata) on Dispatch
/// threads, so that they never occupy a thread of Swift's cooperative pool.
enum BlockingCalls {
    private static let queue = DispatchQueue(label: "tally.kafka.blocking", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws(KafkaError) -> T) async throws(KafkaError) -> T {
        let result: Result<T, KafkaError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(KafkaError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    static func run(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                body()
                continuation.resume()
            }
        }
    }
}

/// A C pointer that is only used from the thread-safe librdkafka API.
struct UnsafeHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}
