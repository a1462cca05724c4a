import Crypto
import Foundation
import Logging
import PostgresNIO

/// One numbered SQL file.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// SHA-256 of the migration's statements, hex: what is recorded when it is applied. Lines
    /// that are only a `--` comment, blank lines and trailing spaces do not count, so a comment
    /// can be corrected in an applied file; any change to a statement is a different checksum.
    public var checksum: String {
        ContentHash.sha256Hex(Data(Self.statementText(sql).utf8))
    }

    /// SHA-256 of the whole text, as versions before comment-insensitive checksums recorded it.
    var fullTextChecksum: String {
        ContentHash.sha256Hex(Data(sql.utf8))
    }

    /// Full-text checksums of shipped files whose statements are the ones a statement checksum
    /// (the key) covers: the texts before a comment-only correction, recorded by versions that
    /// checksummed the whole text. The services' `0100_baseline.sql` said "versions 1-3".
    static let earlierTexts: [String: Set<String>] = [
        "d1aaf512c71817daa4c9180078e4c368943afb1a34d1877b7eea4068c24343ae": ["c23b47a456a857c04146bfb682ee8eee17787dc0716a2f92b6874c5798e2c9b4"],
        "18210ecd845ace27788a0b440a241efea1ca3ebdda94f33be675370ca48753fb": ["831b0e0b859060f862340f25e8694a06c2ccab5e5b11ce407067ed5130d2b448"],
        "655f572239be31df1785d4718006cf96315d8391272bda76bbd33ceba07e18fa": ["ea036c6c9ca05d1458bcf96b3f6eca249f04c362bfdb7d90c9be36847b1ef9e7"],
        "08a286a2b18447ee3285bbe06f0b56b5e7e1ea2c6c8796e51b19d7dcdb4f1df2": ["2c4c49c7470980d9f59fe244b84033538c686238dde5281e0e594d6196980b5e"],
        "83c2e5613871ce5b649a82d180e30019a4fb7136aebe1ca851258ee19bb04e22": ["3299653b97924ea0866814c26901d7cf792786f24c88bf9afe0c7ba3c9fbbf72"],
        "fb01df3b4bef22cc76991ed163f56300eddca370a65c057ef3ebff6d19415b5b": ["09259956e39040db075378c88b84b5ed4537a5159ad9428b7203e507a85f012a"],
        "c643a6e59d34341d3b3294fb0fbc804be1b6a9710d1e882e0c0b97e2763f9d57": ["f47463c7178b4d6e745ad960e6ab53c76620cc3e73b8e89f1f945c815d2fd532"],
    ]

    /// The text without comment-only lines, blank lines and trailing whitespace.
    static func statementText(_ sql: String) -> String {
        sql.split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in String(line.reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed()) }
            .filter { line in
                let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
                return !trimmed.isEmpty && !trimmed.hasPrefix("--")
            }
            .joined(separator: "\n")
    }

    /// Reads `NNNN_description.sql` files from `folder`, sorted by number.
    public static func load(from folder: URL) throws -> [Migration] {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
        var migrations: [Migration] = []
        for file in files {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else {
                throw StorageError.invalidMigrationFile(file)
            }
            let sql = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (previous, next) in zip(migrations, migrations.dropFirst()) where previous.version == next.version {
            throw StorageError.invalidMigrationFile("\(next.version)_\(next.name).sql")
        }
        return migrations
    }
}

/// Applies a service's migrations to its schema.
///
/// Guarantees: migrations run in version order, each in its own transaction together with its
/// record in `schema_migrations`; concurrent starts of the same service serialize on an advisory
/// lock; a migration whose text changed after it was applied stops the start-up with
/// `StorageError.migrationChanged`.
public struct MigrationRunner: Sendable {
    public let schema: ServiceSchema
    /// The platform tables (outbox, inbox, audit log) followed by the service's own files.
    public let migrations: [Migration]

    public init(schema: ServiceSchema, serviceMigrations: [Migration]) {
        self.schema = schema
        self.migrations = PlatformMigrations.all + serviceMigrations
    }

    /// The highest version this build ships.
    public var head: Int { migrations.last?.version ?? 0 }

    /// Applies what is missing and returns the versions applied now.
    @discardableResult
    public func migrate(_ client: PostgresClient, logger: Logger) async throws -> [Int] {
        let lockKey = Int64(bitPattern: UInt64(truncatingIfNeeded: schema.name.hashValueStable))
        return try await client.withConnection { connection in
            // Waiting for another instance's migration, or rewriting a large table, may take
            // longer than the pool's statement limit: none while migrating.
            try await connection.query("SET statement_timeout = 0", logger: logger)
            try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
            do {
                let applied = try await run(on: connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
                try await connection.query("RESET statement_timeout", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
                _ = try? await connection.query("RESET statement_timeout", logger: logger)
                throw error
            }
        }
    }

    private func run(on connection: PostgresConnection, logger: Logger) async throws -> [Int] {
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    CREATE TABLE IF NOT EXISTS \(schema.name).schema_migrations (
                        version integer PRIMARY KEY,
                        name text NOT NULL,
                        checksum text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )
                    """), logger: logger)
        var recorded: [Int: (String, String)] = [:]
        let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT version, name, checksum FROM \(schema.name).schema_migrations"), logger: logger)
        for try await (version, name, checksum) in rows.decode((Int, String, String).self) {
            recorded[version] = (name, checksum)
        }
        let known = Set(migrations.map(\.version))
        if let unknown = recorded.keys.sorted().first(where: { !known.contains($0) }) {
            throw StorageError.unknownAppliedMigration(version: unknown)
        }
        var appliedNow: [Int] = []
        for migration in migrations {
            if let (_, checksum) = recorded[migration.version] {
                if checksum == migration.checksum { continue }
                // Recorded by an earlier version over the whole text: the file is unchanged, or
                // only its comments changed since a text whose checksum is known here, so the
                // record moves to the statement checksum.
                guard checksum == migration.fullTextChecksum || Migration.earlierTexts[migration.checksum]?.contains(checksum) == true else {
                    throw StorageError.migrationChanged(version: migration.version, name: migration.name, recorded: checksum, found: migration.checksum)
                }
                try await connection.query(
                    "UPDATE \(unescaped: schema.name).schema_migrations SET checksum = \(migration.checksum) WHERE version = \(migration.version)",
                    logger: logger)
                continue
            }
            logger.info("applying migration", metadata: ["schema": "\(schema.name)", "version": "\(migration.version)", "name": "\(migration.name)"])
            // The migration and its record commit together or not at all.
            try await connection.withTransaction(logger: logger) { transaction in
                try await transaction.query(PostgresQuery(unsafeSQL: "SET LOCAL search_path = \(schema.name)"), logger: logger)
                for statement in SQLScript.statements(migration.sql) {
                    try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await transaction.query(
                    "INSERT INTO \(unescaped: schema.name).schema_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))",
                    logger: logger
                )
            }
            appliedNow.append(migration.version)
        }
        return appliedNow
    }

    /// The highest version recorded in the database, or nil before the first migration.
    public func currentVersion(_ client: PostgresClient, logger: Logger) async throws -> Int? {
        let rows = try await client.query(PostgresQuery(unsafeSQL: "SELECT max(version) FROM \(schema.name).schema_migrations"), logger: logger)
        for try await version in rows.decode(Int?.self) { return version }
        return nil
    }
}

extension String {
    /// A hash that is the same in every process (Swift's `hashValue` is seeded per process).
    var hashValueStable: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
