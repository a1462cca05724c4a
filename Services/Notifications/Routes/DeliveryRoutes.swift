import Contracts
import Foundation
import Hummingbird
import ServiceRuntime
import Storage

/// Admin routes of deliveries under `/admin/orgs/{org}/deliveries`. Every role reads; replaying
/// takes owner, admin or support. Replays are audited; a bulk replay is refused when the org ran
/// one in the last `bulkReplayInterval` (429 with `Retry-After`) and takes at most 500
/// deliveries. Nothing here reaches across orgs: every statement runs under the token's org.
struct DeliveryRoutes: Sendable {
    let queries: NotificationQueries
    let audit: AuditLog
    let now: @Sendable () -> Date
    var bulkReplayInterval: Duration = .seconds(60)

    static let replayRoles: Set<AdminRole> = [.owner, .admin, .support]

    struct ReplayRequest: Decodable {
        var reason: String?
    }

    struct BulkReplayRequest: Decodable {
        var dryRun: Bool?
        var channel: String?
        var templateKey: String?
        var limit: Int?
        var reason: String?
        enum CodingKeys: String, CodingKey { case dryRun = "dry_run", channel, templateKey = "template_key", limit, reason }
    }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("deliveries") { request, context -> DeliveryList in
            let org = try context.requirePrincipal().tenant()
            let status = try request.queryText("status", maxCharacters: 30).map { text throws(Problem) in
                guard let status = DeliveryStatus(rawValue: text) else {
                    throw RequestInput.invalid("status", "must be one of \(DeliveryStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return status
            }
            let channel = try Self.channel(request.queryText("channel", maxCharacters: 30), field: "channel")
            let after = try request.queryText("after", maxCharacters: 100).map { text throws(Problem) in
                guard let cursor = DeliveryCursor.decode(text) else { throw RequestInput.invalid("after", "must be a next_cursor from a previous page") }
                return cursor
            }
            let limit = try RequestInput.limit(request)
            let records = try await queries.deliveries(org: org, status: status, channel: channel, after: after, limit: limit)
            return DeliveryList(deliveries: records.map { DeliveryBody($0) }, nextCursor: records.count == limit ? records.last.map(DeliveryCursor.encode) : nil)
        }
        admin.get("deliveries/:id") { _, context -> DeliveryBody in
            let org = try context.requirePrincipal().tenant()
            let id = try Self.id(context)
            guard let (record, attempts) = try await queries.delivery(org: org, id: id) else { throw Problem.notFound("no delivery \(id.uuidString.lowercased()) in this org") }
            return DeliveryBody(record, attempts: attempts)
        }
        admin.post("deliveries/:id/replay") { request, context -> DeliveryBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, Self.replayRoles, to: "replaying a delivery")
            let org = try principal.tenant()
            let id = try Self.id(context)
            let input = try await RequestInput.optionalBody(ReplayRequest.self, from: request, allowed: ["reason"])
            let reason = try RequestInput.text(input?.reason, field: "reason", maxCharacters: 200)
            let time = now()
            return try await queries.inTenant(org) { store, connection in
                guard var record = try await store.delivery(org: org, id: id, forUpdate: true) else {
                    throw Problem.notFound("no delivery \(id.uuidString.lowercased()) in this org")
                }
                let before = DeliveryBody(record)
                do throws(ReplayRefusal) {
                    record.state = try DeliveryLifecycle.replay(record.state, now: time)
                } catch {
                    throw Self.problem(error)
                }
                try await store.save(org: org, record.state, leaseUntil: nil, claimedBy: nil, recipientKey: nil, now: time)
                record.updatedAt = time
                let after = DeliveryBody(record)
                try await audit.record(
                    org: org, actor: principal.subject, action: "delivery.replay", target: "delivery:\(before.id)", before: before,
                    after: ReplayAudit(delivery: after, reason: reason), correlationID: context.correlationID, on: connection, logger: context.logger)
                return after
            }
        }
        admin.post("deliveries/replay") { request, context -> BulkReplayBody in
            let principal = try context.requirePrincipal()
            try RequestInput.require(principal, Self.replayRoles, to: "replaying deliveries")
            let org = try principal.tenant()
            let input = try await RequestInput.body(BulkReplayRequest.self, from: request, allowed: ["dry_run", "channel", "template_key", "limit", "reason"])
            let channel = try Self.channel(input.channel, field: "channel")
            let templateKey = try RequestInput.text(input.templateKey, field: "template_key", maxCharacters: 100)
            let limit = input.limit ?? 100
            guard (1...500).contains(limit) else { throw RequestInput.invalid("limit", "must be a whole number from 1 to 500") }
            let reason = try RequestInput.text(input.reason, field: "reason", maxCharacters: 200)
            let dryRun = input.dryRun ?? true
            let matches = try await queries.deadDeliveries(org: org, channel: channel, templateKey: templateKey, limit: limit)
            let reasons = Dictionary(grouping: matches, by: { $0.state.lastReason ?? "unknown" }).mapValues(\.count)
            let ids = matches.map { $0.state.id.uuidString.lowercased() }
            if dryRun { return BulkReplayBody(dryRun: true, matched: matches.count, replayed: 0, reasons: reasons, deliveryIDs: ids) }
            let time = now()
            return try await queries.inTenant(org) { store, connection in
                if let last = try await queries.lastBulkReplay(org: org, connection: connection),
                    time < last.addingTimeInterval(bulkReplayInterval.timeInterval)
                {
                    let wait = Int(last.addingTimeInterval(bulkReplayInterval.timeInterval).timeIntervalSince(time).rounded(.up))
                    throw Problem(
                        type: "bulk-replay-rate-limited", title: "Too many bulk replays", status: .tooManyRequests,
                        detail: "this org ran a bulk replay less than \(bulkReplayInterval) ago; try again in \(wait) s", extensions: ["retry_after": "\(wait)"])
                }
                var replayed: [String] = []
                for match in matches {
                    guard var record = try await store.delivery(org: org, id: match.state.id, forUpdate: true), record.state.status == .dead else { continue }
                    record.state = try DeliveryLifecycle.replay(record.state, now: time)
                    try await store.save(org: org, record.state, leaseUntil: nil, claimedBy: nil, recipientKey: nil, now: time)
                    replayed.append(record.state.id.uuidString.lowercased())
                }
                let body = BulkReplayBody(dryRun: false, matched: matches.count, replayed: replayed.count, reasons: reasons, deliveryIDs: replayed)
                try await audit.record(
                    org: org, actor: principal.subject, action: "deliveries.bulk_replay", target: "deliveries",
                    before: BulkFilter(channel: channel?.rawValue, templateKey: templateKey, limit: limit), after: BulkAudit(result: body, reason: reason),
                    correlationID: context.correlationID, on: connection, logger: context.logger)
                return body
            }
        }
    }

    struct ReplayAudit: Encodable {
        var delivery: DeliveryBody
        var reason: String?
    }

    struct BulkFilter: Encodable {
        var channel: String?
        var templateKey: String?
        var limit: Int
        enum CodingKeys: String, CodingKey { case channel, templateKey = "template_key", limit }
    }

    struct BulkAudit: Encodable {
        var result: BulkReplayBody
        var reason: String?
    }

    static func channel(_ text: String?, field: String) throws(Problem) -> NotificationChannel? {
        guard let text, !text.isEmpty else { return nil }
        guard let channel = NotificationChannel(rawValue: text) else {
            throw RequestInput.invalid(field, "must be one of \(NotificationChannel.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return channel
    }

    /// The delivery id in the path; anything that is not a UUID names no delivery: 404.
    static func id(_ context: ServiceRequestContext) throws(Problem) -> UUID {
        guard let text = context.parameters.get("id"), text.count <= 36, let id = UUID(uuidString: text) else {
            throw Problem.notFound("no such delivery in this org")
        }
        return id
    }

    static func problem(_ refusal: ReplayRefusal) -> Problem {
        switch refusal {
        case .notDead(let status):
            Problem(
                type: "delivery-not-dead", title: "Only a dead delivery is replayed", status: .conflict,
                detail: "the delivery is \(status.rawValue); only dead deliveries are replayed", extensions: ["status": status.rawValue])
        }
    }
}
