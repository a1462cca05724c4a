import Foundation
import Testing

@testable import IngestGateway

/// The source cache never keeps what a load read before a source changed.
@Suite("Source cache")
struct SourceCacheTests {
    func entry(_ id: String, at time: Date) -> SourceCache.Entry {
        SourceCache.Entry(
            source: Source(id: id, orgID: "org_acme", provider: .stripe, name: "s", status: .active, toleranceSeconds: 300),
            secrets: [], loadedAt: time)
    }

    @Test func aLoadThatStartedBeforeADropIsNotStored() {
        let cache = SourceCache()
        let now = Date()
        let staleLoad = cache.beginLoad()
        cache.drop("src_1")  // e.g. the source was disabled while the load was reading it
        cache.store("src_1", entry("src_1", at: now), loadedSince: staleLoad)
        #expect(cache.entry("src_1", now: now) == nil)

        let freshLoad = cache.beginLoad()
        cache.store("src_1", entry("src_1", at: now), loadedSince: freshLoad)
        #expect(cache.entry("src_1", now: now)?.source.id == "src_1")
        #expect(cache.entry("src_1", now: now.addingTimeInterval(SourceCache.lifetime + 0.1)) == nil, "entries expire")
    }
}
