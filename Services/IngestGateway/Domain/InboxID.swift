import Foundation

/// Inbox ids in the order webhooks arrive (UUID version 7, RFC 9562): the first 48 bits are the
/// Unix time in milliseconds, the 12 bits after the version are the webhook's position in its
/// intake batch, the rest is random.
///
/// - Within a batch, ids ascend in input order, so the raw-webhook relay, which publishes a
///   transaction's rows in id order, publishes them in the order they arrived.
/// - New rows land at the right edge of the primary-key index instead of on random pages: fewer
///   pages are dirtied per insert, and fewer full-page images follow each checkpoint.
/// - Nothing reads the time back out of an id: `received_at` is the time of record.
enum InboxID {
    /// The most ids one call makes in ascending order (the position field's range); beyond it
    /// ids are still unique (random bits) but no longer ordered.
    static let orderedBatchLimit = 4096

    /// `count` new ids, ascending for up to `orderedBatchLimit`, for the webhooks of one batch
    /// in input order.
    static func batch(_ count: Int, now: Date = Date()) -> [UUID] {
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        return (0..<count).map { index in
            let position = index & 0xFFF
            var random = SystemRandomNumberGenerator()
            let tail = random.next() as UInt64
            var bytes = [UInt8](repeating: 0, count: 16)
            for byte in 0..<6 { bytes[byte] = UInt8(truncatingIfNeeded: millis >> (40 - 8 * byte)) }
            bytes[6] = 0x70 | UInt8(truncatingIfNeeded: position >> 8)
            bytes[7] = UInt8(truncatingIfNeeded: position)
            for byte in 0..<8 { bytes[8 + byte] = UInt8(truncatingIfNeeded: tail >> (56 - 8 * byte)) }
            bytes[8] = 0x80 | (bytes[8] & 0x3F)
            return bytes.withUnsafeBytes { UUID(uuid: $0.load(as: uuid_t.self)) }
        }
    }
}
