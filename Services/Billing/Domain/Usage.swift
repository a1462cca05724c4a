import Foundation

/// One metric of a subscription's usage report.
struct UsageReportLine: Codable, Sendable, Equatable {
    var metric: String
    /// The stored counter: what billing's projection says was used.
    var recorded: Int64
    /// The truth, counted again from the stored usage events.
    var counted: Int64
    /// The plan version's limit; nil when the plan sets none (or the subscription is unmapped).
    var limit: Int64?
    /// The counted usage exceeds the limit.
    var overage: Bool
    /// The counter and the count disagree: the projection drifted (a lost update, a manual edit).
    var driftDetected: Bool

    enum CodingKeys: String, CodingKey {
        case metric, recorded, counted, limit, overage, driftDetected = "drift_detected"
    }
}

enum UsageRules {
    /// `YYYY-MM` of `date` in UTC: the month usage counts in.
    static func month(of date: Date) -> String {
        let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        let year = parts.year ?? 1970
        let month = parts.month ?? 1
        return "\(year)-\(month < 10 ? "0" : "")\(month)"
    }

    /// Whether `text` is a month `YYYY-MM` (years 2000 to 2999).
    static func isMonth(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let year = Int(parts[0]), let month = Int(parts[1]) else { return false }
        return (2000...2999).contains(year) && (1...12).contains(month)
    }

    /// One line per metric that has a counter, a count or a limit, by metric name.
    static func report(recorded: [String: Int64], counted: [String: Int64], limits: [String: Int64]) -> [UsageReportLine] {
        Set(recorded.keys).union(counted.keys).union(limits.keys).sorted().map { metric in
            let stored = recorded[metric] ?? 0
            let truth = counted[metric] ?? 0
            let limit = limits[metric]
            return UsageReportLine(
                metric: metric, recorded: stored, counted: truth, limit: limit, overage: limit.map { truth > $0 } ?? false, driftDetected: stored != truth)
        }
    }
}
