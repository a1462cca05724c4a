import Contracts
import Foundation

/// One difference billing sync found between a stored projection and its rebuilt value.
struct SyncDifference: Codable, Sendable, Equatable {
    /// `subscription:{provider}:{id}` or `usage:{provider}:{id}:{metric}:{month}`.
    var item: String
    var field: String
    /// The values as JSON text; nil when absent.
    var stored: String?
    var rebuilt: String?
}

enum SyncRules {
    /// The fields whose values differ between two projections, compared as JSON objects.
    static func differences(item: String, stored: SubscriptionProjection?, rebuilt: SubscriptionProjection?) -> [SyncDifference] {
        let before = jsonFields(stored)
        let after = jsonFields(rebuilt)
        return Set(before.keys).union(after.keys).sorted().compactMap { field in
            before[field] == after[field] ? nil : SyncDifference(item: item, field: field, stored: before[field], rebuilt: after[field])
        }
    }

    /// Folds a history from nothing; a change the rules refuse is reported (and left out).
    static func rebuild(_ history: [SubscriptionChange]) -> (projection: SubscriptionProjection?, refused: [String]) {
        var projection: SubscriptionProjection?
        var refused: [String] = []
        for change in history {
            do {
                projection = try SubscriptionRules.apply(change, to: projection)
            } catch {
                refused.append("\(change.kind): \(error)")
            }
        }
        return (projection, refused)
    }

    private static func jsonFields(_ projection: SubscriptionProjection?) -> [String: String] {
        guard let projection else { return [:] }
        guard let bytes = try? CanonicalJSON.encode(projection), let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            return [:]
        }
        var fields: [String: String] = [:]
        for (key, value) in object {
            guard let text = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) else { continue }
            fields[key] = String(decoding: text, as: UTF8.self)
        }
        return fields
    }
}
