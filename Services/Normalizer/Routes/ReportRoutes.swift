import Foundation
import Hummingbird
import PostgresNIO
import ServiceRuntime
import Storage

/// Admin routes under `/admin/orgs/{org}`: raw → canonical lineage of one inbox row, the daily
/// delta report (received vs processed / ignored / failed) and integration freshness.
struct ReportRoutes: Sendable {
    let client: PostgresClient
    let schema: ServiceSchema
    /// A provider whose last event is older than `slowAfter` is `slow`, older than `staleAfter` `stale`.
    let slowAfter: Duration
    let staleAfter: Duration

    struct LineageEntry: Encodable {
        var canonicalEventID: String
        var position: Int
        var eventType: String
        /// `emitted`, or `superseded` when a newer version of its object had already been applied.
        var disposition: String
        enum CodingKeys: String, CodingKey { case canonicalEventID = "canonical_event_id", position, eventType = "event_type", disposition }
    }

    struct Lineage: Encodable, ResponseEncodable {
        var inboxID: String
        var outcome: String?
        var reason: String?
        var canonicalEvents: [LineageEntry]
        enum CodingKeys: String, CodingKey { case inboxID = "inbox_id", outcome, reason, canonicalEvents = "canonical_events" }
    }

    struct DeltaRow: Encodable {
        var day: String
        var provider: String
        var received: Int
        var processed: Int
        var ignored: Int
        var superseded: Int
        var failed: Int
        /// Received but without an outcome yet.
        var pending: Int
    }

    struct Delta: Encodable, ResponseEncodable { var days: [DeltaRow] }

    struct Freshness: Encodable {
        var provider: String
        var lastEventAt: String
        var ageSeconds: Int
        var state: String
        enum CodingKeys: String, CodingKey { case provider, lastEventAt = "last_event_at", ageSeconds = "age_seconds", state }
    }

    struct FreshnessList: Encodable, ResponseEncodable { var providers: [Freshness] }

    func add(to admin: RouterGroup<ServiceRequestContext>) {
        admin.get("lineage/:inboxID") { _, context -> Lineage in
            let tenant = try context.requirePrincipal().tenant()
            let inboxID = context.parameters.get("inboxID") ?? ""
            return try await client.withTenantTransaction(tenant, logger: context.logger) { connection in
                var lineage = Lineage(inboxID: inboxID, outcome: nil, reason: nil, canonicalEvents: [])
                for try await (outcome, reason) in try await connection.query("""
                    SELECT outcome, reason FROM \(unescaped: schema.name).raw_outcomes WHERE source_inbox_id = \(inboxID) ORDER BY handled_at LIMIT 1
                    """, logger: context.logger).decode((String, String?).self) {
                    (lineage.outcome, lineage.reason) = (outcome, reason)
                }
                for try await (id, position, type, disposition) in try await connection.query("""
                    SELECT canonical_event_id, position, event_type, disposition FROM \(unescaped: schema.name).lineage WHERE source_inbox_id = \(inboxID) ORDER BY position
                    """, logger: context.logger).decode((String, Int, String, String).self) {
                    lineage.canonicalEvents.append(LineageEntry(canonicalEventID: id, position: position, eventType: type, disposition: disposition))
                }
                guard lineage.outcome != nil else { throw Problem.notFound("the normalizer has not seen inbox entry \(inboxID)") }
                return lineage
            }
        }
        admin.get("reports/delta") { request, context -> Delta in
            let tenant = try context.requirePrincipal().tenant()
            let days = min(max(request.uri.queryParameters.get("days", as: Int.self) ?? 7, 1), 90)
            return try await client.withTenantTransaction(tenant, logger: context.logger) { connection in
                var rows: [DeltaRow] = []
                for try await row in try await connection.query("""
                    SELECT to_char(date_trunc('day', received_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), provider,
                           count(*)::int,
                           count(*) FILTER (WHERE outcome = 'processed')::int,
                           count(*) FILTER (WHERE outcome = 'ignored')::int,
                           count(*) FILTER (WHERE outcome = 'superseded')::int,
                           count(*) FILTER (WHERE outcome = 'failed')::int
                    FROM \(unescaped: schema.name).raw_outcomes
                    WHERE received_at >= now() - \(days)::int * interval '1 day'
                    GROUP BY 1, 2 ORDER BY 1 DESC, 2
                    """, logger: context.logger).decode((String, String, Int, Int, Int, Int, Int).self) {
                    rows.append(DeltaRow(day: row.0, provider: row.1, received: row.2, processed: row.3, ignored: row.4, superseded: row.5,
                                         failed: row.6, pending: row.2 - row.3 - row.4 - row.5 - row.6))
                }
                return Delta(days: rows)
            }
        }
        admin.get("reports/freshness") { _, context -> FreshnessList in
            let tenant = try context.requirePrincipal().tenant()
            return try await client.withTenantTransaction(tenant, logger: context.logger) { connection in
                var providers: [Freshness] = []
                for try await (provider, last, age) in try await connection.query("""
                    SELECT provider, to_char(max(received_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                           EXTRACT(EPOCH FROM now() - max(received_at))::int
                    FROM \(unescaped: schema.name).raw_outcomes GROUP BY provider ORDER BY provider
                    """, logger: context.logger).decode((String, String, Int).self) {
                    let state = age >= Int(staleAfter.components.seconds) ? "stale" : age >= Int(slowAfter.components.seconds) ? "slow" : "fresh"
                    providers.append(Freshness(provider: provider, lastEventAt: last, ageSeconds: age, state: state))
                }
                return FreshnessList(providers: providers)
            }
        }
    }
}
