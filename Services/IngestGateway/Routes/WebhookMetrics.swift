import Metrics
import Synchronization

/// The intake's metrics, created once per label set and reused: building a metric looks it up
/// (and validates its labels) in the registry, which is too much work to repeat per request.
final class WebhookMetrics: Sendable {
    private let counters = Mutex<[String: Counter]>([:])
    let acceptedDuration = Timer(label: "gateway_request_duration_seconds", dimensions: [("outcome", "accepted")], preferredDisplayUnit: .seconds)
    let refusedDuration = Timer(label: "gateway_request_duration_seconds", dimensions: [("outcome", "refused")], preferredDisplayUnit: .seconds)

    /// `gateway_webhooks_accepted_total{provider, duplicate}`.
    func accepted(provider: String, duplicate: Bool) -> Counter {
        counter("gateway_webhooks_accepted_total", [("provider", provider), ("duplicate", duplicate ? "true" : "false")])
    }

    /// `gateway_webhooks_refused_total{provider, reason}`.
    func refused(provider: String, reason: String) -> Counter {
        counter("gateway_webhooks_refused_total", [("provider", provider), ("reason", reason)])
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = ([label] + dimensions.map { $0.0 + "=" + $0.1 }).joined(separator: "\u{0}")
        return counters.withLock { counters in
            if let existing = counters[key] { return existing }
            let created = Counter(label: label, dimensions: dimensions)
            counters[key] = created
            return created
        }
    }
}
