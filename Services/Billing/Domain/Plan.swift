import Contracts
import Foundation

/// One version of a plan in an org's catalog. Versions are immutable: a change to a plan creates
/// the next version, and a subscription keeps the version it was put on.
struct PlanVersion: Codable, Sendable, Equatable {
    var code: String
    var version: Int
    var name: String
    var interval: BillingInterval
    /// Price per interval, in minor units, by ISO 4217 currency code.
    var prices: [String: Int64]
    /// The most a subscriber may use per metric (seats, bookings per month, storage bytes…).
    var limits: [String: Int64]
    var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case code, version, name, interval, prices, limits, createdAt = "created_at"
    }
}

/// What an operator asks a plan to be.
struct PlanDraft: Sendable, Equatable {
    var name: String
    var interval: BillingInterval
    var prices: [String: Int64]
    var limits: [String: Int64]
}

/// The catalog's rules.
enum PlanCatalog {
    /// A plan code, a metric name: `[a-z][a-z0-9_.-]{0,63}`.
    static func isCode(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, (1...64).contains(text.unicodeScalars.count), ("a"..."z").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "." || $0 == "-" }
    }

    /// The version `draft` makes of a plan whose newest version is `current`: version 1 for a new
    /// plan, the next version when anything differs, nil when the draft changes nothing.
    static func revise(_ current: PlanVersion?, code: String, with draft: PlanDraft, now: Date) -> PlanVersion? {
        if let current, current.name == draft.name, current.interval == draft.interval, current.prices == draft.prices, current.limits == draft.limits {
            return nil
        }
        return PlanVersion(
            code: code, version: (current?.version ?? 0) + 1, name: draft.name, interval: draft.interval, prices: draft.prices, limits: draft.limits,
            createdAt: now)
    }
}

/// Which plan a subscription is on, and who decided it.
struct PlanAssignment: Codable, Sendable, Equatable {
    enum Source: String, Codable, Sendable { case mapping, `operator` }
    var code: String
    var version: Int
    var source: Source
    /// For an operator's correction: when, why and by whom. A provider event overrides it only
    /// if the provider's change happened after `correctedAt`.
    var correctedAt: Date?
    var reason: String?
    var actor: String?

    enum CodingKeys: String, CodingKey {
        case code, version, source, correctedAt = "corrected_at", reason, actor
    }
}
