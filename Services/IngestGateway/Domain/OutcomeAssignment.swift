import Contracts
import Foundation

/// Which inbox rows the normalizer's outcomes of one batch decide: a pure function of the batch.
///
/// - The first outcome for an inbox row in the batch is the one that counts; a later one for the
///   same row (a replay's, or a redelivery) is left out here and ends `ignored`.
/// - An outcome whose inbox id is not a UUID names no row; it is listed in `unaddressed` so the
///   handler can say so, and ends `ignored`.
/// - Rows are grouped by org, orgs in order of first appearance, because row-level security
///   scopes each write to one org.
struct OutcomeAssignment: Equatable {
    /// One row's new status, with the position of the event that set it.
    struct Update: Equatable {
        var position: Int
        var inboxID: UUID
        var status: InboxStatus
        var reason: String?
    }

    var byTenant: [(tenant: TenantID, updates: [Update])]
    /// Inbox ids that are not UUIDs.
    var unaddressed: [String]

    init(_ outcomes: [(tenant: TenantID, outcome: WebhookOutcome)]) {
        var firsts: [(tenant: TenantID, update: Update)] = []
        var seen = Set<UUID>()
        var unaddressed: [String] = []
        for (position, item) in outcomes.enumerated() {
            guard let inboxID = UUID(uuidString: item.outcome.inboxID) else {
                unaddressed.append(item.outcome.inboxID)
                continue
            }
            guard seen.insert(inboxID).inserted else { continue }
            firsts.append((item.tenant, Update(position: position, inboxID: inboxID, status: InboxStatus(item.outcome.status), reason: item.outcome.reason)))
        }
        var groups: [(tenant: TenantID, updates: [Update])] = []
        var index: [TenantID: Int] = [:]
        for first in firsts {
            if let at = index[first.tenant] {
                groups[at].updates.append(first.update)
            } else {
                index[first.tenant] = groups.count
                groups.append((first.tenant, [first.update]))
            }
        }
        self.byTenant = groups
        self.unaddressed = unaddressed
    }

    static func == (lhs: OutcomeAssignment, rhs: OutcomeAssignment) -> Bool {
        lhs.unaddressed == rhs.unaddressed && lhs.byTenant.elementsEqual(rhs.byTenant) { $0.tenant == $1.tenant && $0.updates == $1.updates }
    }
}
