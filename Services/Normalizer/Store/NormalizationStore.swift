import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// The normalizer's state: per-object version fences, lineage, outcome rows and the outbox.
/// Calls run inside the consumer inbox's transaction; `use(tenant:)` scopes the ones after it.
protocol NormalizationStore: Sendable {
    /// Makes `tenant` the org of the calls that follow.
    func use(tenant: TenantID) async throws
    /// The ordering fence for one canonical event. Additive facts never come here. A state
    /// change is emitted when its provider version is at least the newest already applied to its
    /// object (ties go to the later arrival), and then becomes that object's version; an older
    /// one is superseded. A canonical event decided before (in `decided`, earlier in this batch,
    /// or in lineage) keeps its first disposition, so a replay decides as the first time did.
    func fence(_ object: FencedObject, canonicalID: String, decided: inout [String: Disposition]) async throws -> Disposition
    /// Writes the decisions' lineage, outbox messages and outcome rows, with one statement per
    /// table however many there are; rows already there are kept as they are.
    func save(_ decisions: [RawWebhookDecision], tenant: TenantID) async throws
}

/// The PostgreSQL form, on the inbox transaction's connection.
struct PostgresNormalizationStore: NormalizationStore {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger

    func use(tenant: TenantID) async throws {
        try await connection.setTenant(tenant, logger: logger)
    }

    func fence(_ object: FencedObject, canonicalID: String, decided: inout [String: Disposition]) async throws -> Disposition {
        if let earlier = decided[canonicalID] { return earlier }
        let disposition = try await decide(object, canonicalID: canonicalID)
        decided[canonicalID] = disposition
        return disposition
    }

    private func decide(_ object: FencedObject, canonicalID: String) async throws -> Disposition {
        for try await earlier in try await connection.query(
            """
            SELECT disposition FROM \(unescaped: schema.name).lineage WHERE canonical_event_id = \(canonicalID)
            """, logger: logger
        ).decode(String.self) {
            return Disposition(rawValue: earlier) ?? .emitted
        }
        var applied = false
        for try await _ in try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).object_versions (org_id, provider, object_kind, object_id, version, canonical_event_id)
            VALUES ((SELECT current_setting('tally.org_id', true)), \(object.provider.rawValue), \(object.kind.rawValue), \(object.objectID),
                    \(object.version), \(canonicalID))
            ON CONFLICT (org_id, provider, object_kind, object_id) DO UPDATE
            SET version = EXCLUDED.version, canonical_event_id = EXCLUDED.canonical_event_id, updated_at = now()
            WHERE object_versions.version <= EXCLUDED.version
            RETURNING 1
            """, logger: logger)
        { applied = true }
        if !applied {
            logger.info(
                "state change superseded by a newer provider version",
                metadata: [
                    "object": "\(object.kind.rawValue):\(object.objectID)", "version": "\(RFC3339.string(object.version))", "canonical_event_id": "\(canonicalID)",
                ])
        }
        return applied ? .emitted : .superseded
    }

    func save(_ decisions: [RawWebhookDecision], tenant: TenantID) async throws {
        let lineage = decisions.flatMap(\.lineage)
        let org = tenant.rawValue
        if !lineage.isEmpty {
            try await connection.query(
                """
                INSERT INTO \(unescaped: schema.name).lineage (canonical_event_id, org_id, source_inbox_id, position, event_type, provider, disposition)
                SELECT l.id, \(org), l.inbox_id, l.position, l.event_type, l.provider, l.disposition
                FROM unnest(\(lineage.map(\.canonicalEventID))::text[], \(lineage.map(\.inboxID))::text[], \(lineage.map(\.position))::int4[],
                            \(lineage.map(\.eventType))::text[], \(lineage.map(\.provider))::text[], \(lineage.map(\.disposition.rawValue))::text[])
                     AS l(id, inbox_id, position, event_type, provider, disposition)
                ON CONFLICT (canonical_event_id) DO NOTHING
                """, logger: logger)
        }
        try await Outbox(schema: schema).enqueue(decisions.flatMap(\.outbox), on: connection, logger: logger)
        let outcomes = decisions.map(\.outcome)
        guard !outcomes.isEmpty else { return }
        // An empty reason is stored as NULL: a text array cannot carry NULLs from here.
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).raw_outcomes (raw_event_id, org_id, source_inbox_id, provider, provider_event_type, outcome, reason, received_at)
            SELECT o.raw_event_id, \(org), o.source_inbox_id, o.provider, o.provider_event_type, o.outcome, NULLIF(o.reason, ''), o.received_at::timestamptz
            FROM unnest(\(outcomes.map(\.rawEventID))::text[], \(outcomes.map(\.inboxID))::text[], \(outcomes.map(\.provider))::text[],
                        \(outcomes.map(\.providerEventType))::text[], \(outcomes.map(\.status.rawValue))::text[],
                        \(outcomes.map { $0.reason ?? "" })::text[], \(outcomes.map { RFC3339.string($0.receivedAt) })::text[])
                 AS o(raw_event_id, source_inbox_id, provider, provider_event_type, outcome, reason, received_at)
            ON CONFLICT (raw_event_id) DO NOTHING
            """, logger: logger)
    }
}
