import Contracts
import Foundation
import Hummingbird
import ServiceRuntime
import Storage

/// Admin routes under `/admin/orgs/{org}`: `GET discrepancies` (the exception workbench's list:
/// open or resolved, by reason and age, oldest first, keyset-paginated) and
/// `GET discrepancies/{id}` (one, with its check as it stands now). Every role may read them.
struct DiscrepancyRoutes: Sendable {
    let queries: DiscrepancyQueries
    let now: @Sendable () -> Date

    struct DiscrepancyBody: Encodable, ResponseEncodable {
        var discrepancyID: String
        var checkKey: String
        var leg: String
        var reason: String
        var status: String
        var subject: String
        var counterparts: [String]
        var expected: Money?
        var actual: Money?
        var orderID: String?
        var day: String
        var owner: String?
        var revision: Int
        var openedAt: String
        var resolvedAt: String?
        var resolvedBy: String?
        var ageSeconds: Int64
        /// Only in the single answer: the check's status now (it may have matched since).
        var currentStatus: String?

        enum CodingKeys: String, CodingKey {
            case discrepancyID = "discrepancy_id", checkKey = "check_key", leg, reason, status, subject, counterparts, expected, actual, orderID = "order_id"
            case day, owner, revision, openedAt = "opened_at", resolvedAt = "resolved_at", resolvedBy = "resolved_by", ageSeconds = "age_seconds"
            case currentStatus = "current_status"
        }

        init(_ recorded: RecordedDiscrepancy, now: Date, current: Check? = nil) {
            let d = recorded.discrepancy
            self.discrepancyID = recorded.id
            self.checkKey = d.checkKey
            self.leg = d.check.leg.rawValue
            self.reason = d.reason.rawValue
            self.status = d.status.rawValue
            self.subject = d.check.subject.description
            self.counterparts = d.check.counterparts.map(\.description)
            self.expected = d.check.expected
            self.actual = d.check.actual
            self.orderID = d.check.orderID
            self.day = d.check.day.description
            self.owner = d.owner
            self.revision = d.revision
            self.openedAt = RFC3339.string(d.openedAt)
            self.resolvedAt = d.resolvedAt.map(RFC3339.string)
            self.resolvedBy = d.resolvedBy?.rawValue
            self.ageSeconds = max(0, Int64(d.age(at: now).rounded(.down)))
            self.currentStatus = current.map { check in if case .mismatched(let reason) = check.status { "mismatched:\(reason.rawValue)" } else { check.status.name } }
        }
    }

    struct DiscrepancyList: Encodable, ResponseEncodable {
        var discrepancies: [DiscrepancyBody]
        var nextCursor: String?
        enum CodingKeys: String, CodingKey { case discrepancies, nextCursor = "next_cursor" }
    }

    static func isDiscrepancyID(_ text: String) -> Bool {
        text.utf8.count == 28 && text.hasPrefix("dsc_") && text.dropFirst(4).allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("discrepancies") { request, context -> DiscrepancyList in
            let org = try context.requirePrincipal().tenant()
            var filter = DiscrepancyQueries.Filter()
            if let status = try request.queryText("status", maxCharacters: 20) {
                guard let parsed = Discrepancy.Status(rawValue: status) else { throw RequestInput.invalid("status", "must be open or resolved") }
                filter.status = parsed
            }
            for name in ["reason", "after"] where request.uri.queryParameters[Substring(name)]?.isEmpty == true {
                throw RequestInput.invalid(name, "must not be empty when given")
            }
            if let reason = try request.queryText("reason", maxCharacters: 40) {
                guard let parsed = MismatchReason(rawValue: reason) else {
                    throw RequestInput.invalid("reason", "must be one of \(MismatchReason.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                filter.reason = parsed
            }
            let time = now()
            if let raw = request.uri.queryParameters["older_than"] {
                // Present means a number: an empty value is refused, not read as "no filter".
                guard let seconds = Int(String(raw)), (0...31_536_000).contains(seconds) else {
                    throw RequestInput.invalid("older_than", "must be a whole number of seconds from 0 to 31536000")
                }
                filter.openedBefore = time.addingTimeInterval(-Double(seconds))
            }
            if let after = try request.queryText("after", maxCharacters: 40) {
                guard Self.isDiscrepancyID(after) else { throw RequestInput.invalid("after", "must be a next_cursor this API returned") }
                filter.after = after
            }
            filter.limit = try RequestInput.limit(request)
            let found = try await queries.list(org: org, filter)
            return DiscrepancyList(
                discrepancies: found.map { DiscrepancyBody($0, now: time) }, nextCursor: found.count == filter.limit ? found.last?.id : nil)
        }
        admin.get("discrepancies/:id") { _, context -> DiscrepancyBody in
            let org = try context.requirePrincipal().tenant()
            let id = context.parameters.get("id") ?? ""
            guard Self.isDiscrepancyID(id), let (found, check) = try await queries.discrepancy(org: org, id: id) else {
                throw Problem.notFound("no discrepancy \(id.prefix(40)) in this org")
            }
            return DiscrepancyBody(found, now: now(), current: check?.check)
        }
    }
}
