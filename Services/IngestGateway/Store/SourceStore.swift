import Contracts
import Foundation
import Logging
import PostgresNIO
import ServiceRuntime
import Storage
import Synchronization
import WebhookSignatures

/// A source: one org's webhook endpoint for one provider.
struct Source: Sendable, Equatable, Codable {
    enum Status: String, Codable, Sendable { case active, disabled }
    var id: String
    var orgID: String
    var provider: WebhookProvider
    var name: String
    var status: Status
    var toleranceSeconds: Int

    enum CodingKeys: String, CodingKey {
        case id, orgID = "org_id", provider, name, status, toleranceSeconds = "tolerance_seconds"
    }
}

/// The gateway's sources and their encrypted secrets.
struct SourceStore: Sendable {
    let client: PostgresClient
    let schema: String
    let box: SecretBox
    let audit: AuditLog
    let logger: Logger
    /// Sources and their opened secrets for a second, so a burst of webhooks does not look the
    /// same source up once per request. Changes made through this store drop the entry at once;
    /// another gateway instance sees them within `SourceCache.lifetime`.
    let cache = SourceCache()

    /// Creates a source. When `secret` is nil one is generated in the provider's format. The
    /// returned secret is the only time it is shown.
    func create(org: TenantID, provider: WebhookProvider, name: String, toleranceSeconds: Int, secret: String?, actor: String) async throws -> (Source, String) {
        let source = Source(id: "src_" + Self.randomToken(bytes: 12), orgID: org.rawValue, provider: provider, name: name, status: .active, toleranceSeconds: toleranceSeconds)
        let secretValue = secret ?? Self.generateSecret(for: provider)
        let sealed = try box.seal(secretValue)
        try await client.withTenantTransaction(org, logger: logger) { connection in
            try await connection.query("INSERT INTO \(unescaped: schema).source_directory (source_id, org_id) VALUES (\(source.id), \(source.orgID))", logger: logger)
            try await connection.query(
                """
                INSERT INTO \(unescaped: schema).sources (id, org_id, provider, name, tolerance_seconds)
                VALUES (\(source.id), \(source.orgID), \(source.provider.rawValue), \(source.name), \(source.toleranceSeconds))
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO \(unescaped: schema).source_secrets (id, source_id, org_id, sealed)
                VALUES (\("sec_" + Self.randomToken(bytes: 12)), \(source.id), \(source.orgID), \(PostgresBytes(sealed)))
                """, logger: logger)
            try await audit.record(
                org: org, actor: actor, action: "source.create", target: source.id, before: Source?.none, after: source,
                correlationID: nil, on: connection, logger: logger)
        }
        return (source, secretValue)
    }

    /// The source and its unexpired secrets, or nil for an unknown id. Reads the directory first
    /// (no tenant yet), then the source under its org's tenant context.
    func lookup(_ sourceID: String, now: Date = Date()) async throws -> (Source, [WebhookSecret])? {
        if let cached = cache.entry(sourceID, now: now) { return cached.usable(at: now) }
        let token = cache.beginLoad()
        var org: String?
        for try await value in try await client.query("SELECT org_id FROM \(unescaped: schema).source_directory WHERE source_id = \(sourceID)", logger: logger).decode(String.self)
        {
            org = value
        }
        guard let org, let tenant = TenantID(rawValue: org) else { return nil }
        let entry: SourceCache.Entry? = try await client.withTenantTransaction(tenant, logger: logger) { connection in
            guard let source = try await fetch(sourceID, on: connection) else { return nil }
            var secrets: [SourceCache.Secret] = []
            let secretRows = try await connection.query(
                """
                SELECT id, sealed, expires_at FROM \(unescaped: schema).source_secrets
                WHERE source_id = \(sourceID) AND (expires_at IS NULL OR expires_at > \(now)) ORDER BY created_at DESC
                """, logger: logger)
            for try await (id, sealed, expiresAt) in secretRows.decode((String, ByteBuffer, Date?).self) {
                // A secret that cannot be opened (wrong key, tampering) is left out: with none
                // left, verification fails closed.
                if let value = try? box.open(Array(buffer: sealed)) {
                    secrets.append(.init(secret: WebhookSecret(id: id, value: value), expiresAt: expiresAt))
                } else {
                    logger.error("a source secret could not be decrypted; check TALLY_SECRETS_KEY", metadata: ["source_id": "\(sourceID)", "secret_id": "\(id)"])
                }
            }
            return SourceCache.Entry(source: source, secrets: secrets, loadedAt: now)
        }
        guard let entry else { return nil }
        cache.store(sourceID, entry, loadedSince: token)
        return entry.usable(at: now)
    }

    /// The org's sources, newest first (secrets are never listed).
    func list(org: TenantID) async throws -> [Source] {
        try await client.withTenantTransaction(org, logger: logger) { connection in
            try await Self.sources(
                in: try await connection.query("SELECT \(unescaped: Self.columns) FROM \(unescaped: schema).sources ORDER BY created_at DESC, id", logger: logger))
        }
    }

    /// Disables a source; it refuses every webhook from then on. Returns the source before and
    /// after, or nil when the org has no such source.
    func disable(org: TenantID, id: String, actor: String) async throws -> Source? {
        defer { cache.drop(id) }
        return try await client.withTenantTransaction(org, logger: logger) { connection in
            guard let before = try await fetch(id, on: connection) else { return nil }
            try await connection.query("UPDATE \(unescaped: schema).sources SET status = 'disabled', disabled_at = now() WHERE id = \(id)", logger: logger)
            var after = before
            after.status = .disabled
            try await audit.record(
                org: org, actor: actor, action: "source.disable", target: id, before: before, after: after,
                correlationID: nil, on: connection, logger: logger)
            return after
        }
    }

    /// Adds a new secret and lets the current ones expire at `previousExpireAt` (now when nil),
    /// so senders can switch without losing a webhook. Returns the new secret, shown only here.
    func rotate(org: TenantID, id: String, newSecret: String?, previousExpireAt: Date, actor: String) async throws -> String? {
        defer { cache.drop(id) }
        guard let source = try await client.withTenantTransaction(org, logger: logger, { connection in try await fetch(id, on: connection) }) else { return nil }
        let secret = newSecret ?? Self.generateSecret(for: source.provider)
        let sealed = try box.seal(secret)
        try await client.withTenantTransaction(org, logger: logger) { connection in
            try await connection.query(
                """
                UPDATE \(unescaped: schema).source_secrets SET expires_at = \(previousExpireAt)
                WHERE source_id = \(id) AND (expires_at IS NULL OR expires_at > \(previousExpireAt))
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO \(unescaped: schema).source_secrets (id, source_id, org_id, sealed)
                VALUES (\("sec_" + Self.randomToken(bytes: 12)), \(id), \(org.rawValue), \(PostgresBytes(sealed)))
                """, logger: logger)
            try await audit.record(
                org: org, actor: actor, action: "source.rotate-secret", target: id, before: [String: String]?.none,
                after: ["previous_secrets_expire_at": RFC3339.string(previousExpireAt)], correlationID: nil, on: connection, logger: logger)
        }
        return secret
    }

    private func fetch(_ id: String, on connection: PostgresConnection) async throws -> Source? {
        try await Self.sources(in: try await connection.query("SELECT \(unescaped: Self.columns) FROM \(unescaped: schema).sources WHERE id = \(id)", logger: logger)).first
    }

    private static let columns = "id, org_id, provider, name, status, tolerance_seconds"

    private static func sources(in rows: PostgresRowSequence) async throws -> [Source] {
        var sources: [Source] = []
        for try await (id, orgID, provider, name, status, tolerance) in rows.decode((String, String, String, String, String, Int).self) {
            // The table's CHECK constraint lists exactly the providers `WebhookProvider` has.
            guard let provider = WebhookProvider(rawValue: provider) else { throw UnknownProviderInRow(sourceID: id, provider: provider) }
            sources.append(Source(id: id, orgID: orgID, provider: provider, name: name, status: Source.Status(rawValue: status) ?? .disabled, toleranceSeconds: tolerance))
        }
        return sources
    }

    static func randomToken(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }.lowercaseHex
    }

    /// A new secret in the format the provider's tooling expects.
    static func generateSecret(for provider: WebhookProvider) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = Data((0..<24).map { _ in UInt8.random(in: 0...255, using: &generator) })
        switch provider {
        case .stripe: return "whsec_" + randomToken(bytes: 24)
        case .paddle: return "pdl_ntfset_" + randomToken(bytes: 24)
        case .hotmart: return randomToken(bytes: 24)
        case .standard, .internal: return "whsec_" + random.base64EncodedString()
        }
    }
}

/// What `SourceStore.lookup` found for a source, kept for `lifetime`. Secrets keep their expiry,
/// so one that expires while cached stops verifying on time.
final class SourceCache: Sendable {
    static let lifetime: TimeInterval = 1

    struct Secret: Sendable {
        let secret: WebhookSecret
        let expiresAt: Date?
    }

    struct Entry: Sendable {
        let source: Source
        let secrets: [Secret]
        let loadedAt: Date

        func usable(at now: Date) -> (Source, [WebhookSecret]) {
            (source, secrets.filter { $0.expiresAt.map { $0 > now } ?? true }.map(\.secret))
        }
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Counts drops, so a load that started before a drop does not store what it read.
        var drops: UInt64 = 0
    }
    private let state = Mutex(State())

    func entry(_ sourceID: String, now: Date) -> Entry? {
        state.withLock { state in
            guard let entry = state.entries[sourceID] else { return nil }
            guard now.timeIntervalSince(entry.loadedAt) < Self.lifetime, now >= entry.loadedAt else {
                state.entries[sourceID] = nil
                return nil
            }
            return entry
        }
    }

    /// Taken before reading a source from the database; pass it to `store`.
    func beginLoad() -> UInt64 { state.withLock { $0.drops } }

    /// Keeps `entry` unless a source was dropped since `beginLoad` returned `token`: the read may
    /// predate that change (a disable, a rotation), and must not outlive it.
    func store(_ sourceID: String, _ entry: Entry, loadedSince token: UInt64) {
        state.withLock { state in
            guard state.drops == token else { return }
            if state.entries.count >= 10_000 { state.entries.removeAll(keepingCapacity: true) }
            state.entries[sourceID] = entry
        }
    }

    func drop(_ sourceID: String) {
        state.withLock { state in
            state.drops &+= 1
            state.entries[sourceID] = nil
        }
    }
}

/// A stored source names a provider this build does not know: the database is ahead of the
/// code (or was edited by hand). Never guessed: the source cannot be used until it is fixed.
struct UnknownProviderInRow: Error, CustomStringConvertible {
    let sourceID: String
    let provider: String
    var description: String { "source \(sourceID) names provider '\(provider)', which this build does not know" }
}
