import Foundation
import Testing

@testable import IngestGateway

@Suite("Inbox ids")
struct InboxIDTests {
    /// A batch's ids ascend in input order (as PostgreSQL compares uuids, byte by byte), carry
    /// version 7 and the RFC variant, and are unique.
    @Test func aBatchsIdsAscendInInputOrder() {
        let now = Date(timeIntervalSince1970: 1_796_000_000.123)
        let ids = InboxID.batch(300, now: now)
        let bytes = ids.map { id in withUnsafeBytes(of: id.uuid) { Array($0) } }
        #expect(zip(bytes, bytes.dropFirst()).allSatisfy { $0.lexicographicallyPrecedes($1) })
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0.uuidString.lowercased() < $1.uuidString.lowercased() })
        #expect(bytes.allSatisfy { $0[6] >> 4 == 7 && $0[8] >> 6 == 0b10 })
        #expect(Set(ids).count == 300)
        let millis = bytes[0].prefix(6).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(millis == 1_796_000_000_123)
    }

    /// A later batch's ids sort after an earlier one's (the time comes first).
    @Test func aLaterBatchSortsAfterAnEarlierOne() {
        let earlier = InboxID.batch(5, now: Date(timeIntervalSince1970: 1_796_000_000))
        let later = InboxID.batch(1, now: Date(timeIntervalSince1970: 1_796_000_000.002))
        #expect(earlier.allSatisfy { $0.uuidString.lowercased() < later[0].uuidString.lowercased() })
    }
}
