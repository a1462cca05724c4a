/// How current a provider's integration is, from the age of its last webhook: `fresh`, then
/// `slow` from `slowAfter`, then `stale` from `staleAfter`.
struct FreshnessRule: Sendable, Equatable {
    enum State: String, Encodable, Sendable { case fresh, slow, stale }

    var slowAfter: Duration
    var staleAfter: Duration

    func state(ageSeconds: Int) -> State {
        if ageSeconds >= Int(staleAfter.components.seconds) { return .stale }
        if ageSeconds >= Int(slowAfter.components.seconds) { return .slow }
        return .fresh
    }
}
