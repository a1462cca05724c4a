import Contracts
import Foundation
import PostgresNIO
import Storage
import TallyTestSupport
import Testing

@Suite("Schemas, migrations and tenancy on real PostgreSQL", .enabled(if: TestDatabase.enabled))
struct SchemaAndTenancyTests {
    static let ledger = Migration(
        version: 100, name: "ledger",
        sql: """
            CREATE TABLE entries (
                id bigserial PRIMARY KEY,
                org_id text NOT NULL,
                memo text NOT NULL, -- a comment with a ; inside
                body text NOT NULL DEFAULT 'semi;colon'
            );
            SELECT enable_tenant_isolation('entries');
            CREATE FUNCTION entry_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM entries; $$;
            """)

    @Test func migrationsApplyOnceAndARecordedChangeStopsTheStart() async throws {
        let service = TestDatabase.uniqueService("mig")
        try await TestDatabase.withService(service, migrations: [Self.ledger]) { client, schema in
            let runner = MigrationRunner(schema: schema, serviceMigrations: [Self.ledger])
            #expect(try await runner.migrate(client, logger: TestDatabase.logger) == [], "a second run applies nothing")
            #expect(try await runner.currentVersion(client, logger: TestDatabase.logger) == 100)

            let edited = Migration(version: 100, name: "ledger", sql: Self.ledger.sql + "\nCREATE TABLE sneaky (id int);")
            await #expect(throws: StorageError.self) {
                try await MigrationRunner(schema: schema, serviceMigrations: [edited]).migrate(client, logger: TestDatabase.logger)
            }
            do {
                try await MigrationRunner(schema: schema, serviceMigrations: [edited]).migrate(client, logger: TestDatabase.logger)
            } catch let error as StorageError {
                guard case .migrationChanged(let version, _, _, _) = error else { throw error }
                #expect(version == 100)
                #expect(error.description.contains("was changed after it was applied"))
            }
        }
    }

    /// Work a service abandoned (its deadline passed) must not run on in the server holding
    /// locks: every session of a service pool carries a statement limit; migrations lift it.
    @Test func serviceSessionsCarryAStatementLimit() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("limit"), migrations: [Self.ledger]) { client, _ in
            let limits = try await client.withConnection { connection in
                var values: [String] = []
                for try await value in try await connection.query(
                    """
                    SELECT current_setting('statement_timeout') || ' ' || current_setting('idle_in_transaction_session_timeout')
                    """, logger: TestDatabase.logger
                ).decode(String.self) { values.append(value) }
                return values
            }
            #expect(limits == ["1min 1min"])
        }
    }

    @Test func aFailingMigrationLeavesNoTrace() async throws {
        let broken = Migration(version: 100, name: "broken", sql: "CREATE TABLE half (id int); SELECT no_such_function();")
        let service = TestDatabase.uniqueService("broken")
        await #expect(throws: (any Error).self) {
            try await TestDatabase.withService(service, migrations: [broken]) { _, _ in }
        }
        let schema = try ServiceSchema(service: service)
        try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { client in
            let tables = try await client.strings("SELECT table_name::text FROM information_schema.tables WHERE table_schema = \(schema.name) AND table_name = 'half'")
            #expect(tables.isEmpty, "the half-applied table was rolled back")
            let versions = try await client.strings("SELECT version::text FROM \(unescaped: schema.name).schema_migrations ORDER BY schema_migrations.version")
            let platform = MigrationRunner(schema: schema, serviceMigrations: []).migrations.map { String($0.version) }
            #expect(!platform.isEmpty && versions == platform, "only the platform migrations are recorded")
        }
    }

    @Test func oneServiceCannotReadOrWriteAnothersTables() async throws {
        let owner = TestDatabase.uniqueService("own")
        let other = TestDatabase.uniqueService("oth")
        let ownerSchema = try await TestDatabase.withService(owner, migrations: [Self.ledger]) { _, schema in schema }
        try await TestDatabase.withService(other) { client, _ in
            await #expect(throws: PSQLError.self, "reading another service's table") {
                try await client.query("SELECT count(*) FROM \(unescaped: ownerSchema.name).entries", logger: TestDatabase.logger)
            }
            await #expect(throws: PSQLError.self, "writing another service's outbox") {
                try await client.query(
                    "INSERT INTO \(unescaped: ownerSchema.name).outbox (event_id, topic, message_key, payload) VALUES ('x', 't', 'k', '\\x00')", logger: TestDatabase.logger)
            }
            await #expect(throws: PSQLError.self, "creating tables in public") {
                try await client.query("CREATE TABLE public.escape (id int)", logger: TestDatabase.logger)
            }
        }
    }

    @Test func orgsCannotSeeOrWriteEachOthersRows() async throws {
        let service = TestDatabase.uniqueService("ten")
        try await TestDatabase.withService(service, migrations: [Self.ledger]) { client, schema in
            let acme = try #require(TenantID(rawValue: "org_acme"))
            let globex = try #require(TenantID(rawValue: "org_globex"))
            let logger = TestDatabase.logger
            for (org, memo) in [(acme, "acme-1"), (acme, "acme-2"), (globex, "globex-1")] {
                try await client.withTenantTransaction(org, logger: logger) { connection in
                    try await connection.query("INSERT INTO \(unescaped: schema.name).entries (org_id, memo) VALUES (\(org.rawValue), \(memo))", logger: logger)
                }
            }
            let seenByAcme = try await client.withTenantTransaction(acme, logger: logger) { connection in
                var memos: [String] = []
                for try await memo in try await connection.query("SELECT memo FROM \(unescaped: schema.name).entries ORDER BY memo", logger: logger).decode(String.self) {
                    memos.append(memo)
                }
                return memos
            }
            #expect(seenByAcme == ["acme-1", "acme-2"])

            await #expect("acme writing a globex row") {
                try await client.withTenantTransaction(acme, logger: logger) { connection in
                    try await connection.query("INSERT INTO \(unescaped: schema.name).entries (org_id, memo) VALUES ('org_globex', 'forged')", logger: logger)
                }
            } throws: { error in
                String(reflecting: error).contains("row-level security")
            }
            let updated = try await client.withTenantTransaction(acme, logger: logger) { connection in
                var count = 0
                for try await _ in try await connection.query(
                    "UPDATE \(unescaped: schema.name).entries SET memo = 'hijacked' WHERE org_id = 'org_globex' RETURNING id", logger: logger)
                { count += 1 }
                return count
            }
            #expect(updated == 0, "acme cannot update globex rows")

            let withoutTenant = try await client.strings("SELECT memo FROM \(unescaped: schema.name).entries")
            #expect(withoutTenant.isEmpty, "no tenant set: no rows (fails closed)")
        }
    }

    /// Lookups by primary key of an org the statistics have not seen (new, or grown since the
    /// last ANALYZE) stay on the primary key. With the bare `current_setting()` in the policy the
    /// planner estimated such an org at one row and walked its whole range of an org index
    /// instead; the same table under that older policy is the control, showing the setup does
    /// reproduce it.
    @Test func keyLookupsOfAnOrgUnknownToTheStatisticsUseThePrimaryKey() async throws {
        // The control's policy is the older one, written out by hand: the bare call.
        let bare = """
            ALTER TABLE control ENABLE ROW LEVEL SECURITY;
            ALTER TABLE control FORCE ROW LEVEL SECURITY;
            CREATE POLICY control_tenant ON control
                USING (org_id = current_setting('tally.org_id', true)) WITH CHECK (org_id = current_setting('tally.org_id', true));
            """
        // Autovacuum stays off for these tables: an ANALYZE of its own would change the statistics
        // the test sets up (a known org only) before the plans are read.
        let tables = Migration(
            version: 100, name: "events",
            sql: ["events", "control"].map { table in
                """
                CREATE TABLE \(table) (id bigint PRIMARY KEY, org_id text NOT NULL, at timestamptz NOT NULL DEFAULT now(),
                                        pad text NOT NULL DEFAULT repeat('x', 100)) WITH (autovacuum_enabled = off);
                CREATE INDEX \(table)_by_org ON \(table) (org_id, at DESC);
                """
            }.joined(separator: "\n") + "SELECT enable_tenant_isolation('events');\n" + bare)
        try await TestDatabase.withService(TestDatabase.uniqueService("plan"), migrations: [tables]) { client, schema in
            let logger = TestDatabase.logger
            let known = try #require(TenantID(rawValue: "org_known"))
            let fresh = try #require(TenantID(rawValue: "org_fresh"))
            for table in ["events", "control"] {
                try await client.withTenantTransaction(known, logger: logger) { connection in
                    try await connection.query(
                        "INSERT INTO \(unescaped: schema.name).\(unescaped: table) (id, org_id) SELECT n, 'org_known' FROM generate_series(1, 20000) n", logger: logger)
                }
                try await client.query("ANALYZE \(unescaped: schema.name).\(unescaped: table)", logger: logger)
                try await client.withTenantTransaction(fresh, logger: logger) { connection in
                    try await connection.query(
                        "INSERT INTO \(unescaped: schema.name).\(unescaped: table) (id, org_id) SELECT n, 'org_fresh' FROM generate_series(20001, 25000) n", logger: logger)
                }
            }
            func plan(_ table: String) async throws -> String {
                try await client.withTenantTransaction(fresh, logger: logger) { connection in
                    var lines: [String] = []
                    for try await line in try await connection.query(
                        """
                        EXPLAIN (COSTS OFF) UPDATE \(unescaped: schema.name).\(unescaped: table) SET at = now()
                        WHERE id = ANY(\(Array(Int64(20001)...20050))::int8[])
                        """, logger: logger
                    ).decode(String.self) { lines.append(line) }
                    return lines.joined(separator: "\n")
                }
            }
            let control = try await plan("control")
            #expect(control.contains("control_by_org"), "the bare call misplans (control): \(control)")
            let planned = try await plan("events")
            #expect(planned.contains("events_pkey") && !planned.contains("events_by_org"), "\(planned)")
        }
    }

    @Test func sqlScriptsSplitOnlyAtTopLevelSemicolons() async throws {
        // Exercised through a migration with comments, quoted semicolons and a dollar-quoted body.
        let service = TestDatabase.uniqueService("split")
        try await TestDatabase.withService(service, migrations: [Self.ledger]) { client, schema in
            let count = try await client.strings("SELECT \(unescaped: schema.name).entry_count()::text")
            #expect(count == ["0"])
            let defaults = try await client.strings("SELECT column_default::text FROM information_schema.columns WHERE table_schema = \(schema.name) AND column_name = 'body'")
            #expect(defaults.first?.contains("semi;colon") == true)
        }
    }
}

@Suite("Audit log", .enabled(if: TestDatabase.enabled))
struct AuditLogTests {
    struct Snapshot: Codable, Sendable { var status: String }

    @Test func entriesCommitWithTheChangeAndStayWithinTheirOrg() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("audit")) { client, schema in
            let audit = AuditLog(schema: schema)
            let acme = try #require(TenantID(rawValue: "org_acme"))
            let globex = try #require(TenantID(rawValue: "org_globex"))
            let logger = TestDatabase.logger
            try await client.withTenantTransaction(acme, logger: logger) { connection in
                try await audit.record(
                    org: acme, actor: "olga", action: "subscription.pause", target: "sub_1",
                    before: Snapshot(status: "active"), after: Snapshot(status: "paused"),
                    correlationID: "corr-1", on: connection, logger: logger)
            }
            // A change that rolls back takes its audit entry with it.
            await #expect(throws: (any Error).self) {
                try await client.withTenantTransaction(acme, logger: logger) { connection in
                    try await audit.record(
                        org: acme, actor: "olga", action: "subscription.resume", target: "sub_1",
                        before: Snapshot(status: "paused"), after: Snapshot(status: "active"),
                        correlationID: "corr-2", on: connection, logger: logger)
                    throw StorageTestError("the change itself failed")
                }
            }
            func entries(_ org: TenantID) async throws -> [String] {
                try await client.withTenantTransaction(org, logger: logger) { connection in
                    var rows: [String] = []
                    for try await (actor, action, before, after) in try await connection.query(
                        "SELECT actor, action, before->>'status', after->>'status' FROM \(unescaped: schema.name).audit_log ORDER BY id", logger: logger
                    ).decode((String, String, String, String).self) {
                        rows.append("\(actor) \(action) \(before)->\(after)")
                    }
                    return rows
                }
            }
            #expect(try await entries(acme) == ["olga subscription.pause active->paused"])
            #expect(try await entries(globex).isEmpty)
            await #expect(throws: (any Error).self, "an entry for another org is refused") {
                try await client.withTenantTransaction(globex, logger: logger) { connection in
                    try await audit.record(
                        org: acme, actor: "mallory", action: "x", target: "y", before: Snapshot?.none, after: Snapshot?.none,
                        correlationID: nil, on: connection, logger: logger)
                }
            }
        }
    }
}

/// Checksums cover statements, not comments: a corrected comment is accepted, a changed
/// statement is not, and a record written over the whole text by an earlier version is upgraded.
@Suite("Migration checksums", .enabled(if: TestDatabase.enabled))
struct MigrationChecksumTests {
    static let original = Migration(
        version: 100, name: "notes",
        sql: """
            -- Notes, as versions 1-3 said.
            CREATE TABLE notes (id int PRIMARY KEY, org_id text NOT NULL);
            """)

    @Test func aCorrectedCommentIsAcceptedAndARecordOfTheWholeTextIsUpgraded() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("sum"), migrations: [Self.original]) { client, schema in
            let commented = Migration(
                version: 100, name: "notes",
                sql: """
                    -- Notes: the platform's versions are 1-99 now.

                    CREATE TABLE notes (id int PRIMARY KEY, org_id text NOT NULL);   
                    """)
            #expect(commented.checksum == Self.original.checksum)
            #expect(try await MigrationRunner(schema: schema, serviceMigrations: [commented]).migrate(client, logger: TestDatabase.logger) == [])

            // As an earlier version recorded it: the checksum of the whole text.
            let fullText = ContentHash.sha256Hex(Data(Self.original.sql.utf8))
            try await client.query("UPDATE \(unescaped: schema.name).schema_migrations SET checksum = \(fullText) WHERE version = 100", logger: TestDatabase.logger)
            #expect(try await MigrationRunner(schema: schema, serviceMigrations: [Self.original]).migrate(client, logger: TestDatabase.logger) == [])
            #expect(try await client.strings("SELECT checksum FROM \(unescaped: schema.name).schema_migrations WHERE version = 100") == [Self.original.checksum])

            let changed = Migration(version: 100, name: "notes", sql: Self.original.sql + "\nCREATE INDEX notes_by_org ON notes (org_id);")
            await #expect(throws: StorageError.self) {
                try await MigrationRunner(schema: schema, serviceMigrations: [changed]).migrate(client, logger: TestDatabase.logger)
            }
        }
    }
}

extension MigrationChecksumTests {
    /// A service schema migrated before its baseline's comment was corrected (the record is the
    /// checksum of the old whole text) still starts: the known earlier text is accepted and the
    /// record moves to the statement checksum.
    @Test func aBaselineAppliedBeforeItsCommentWasCorrectedStillStarts() async throws {
        let current = try #require(try TestService.migrations(of: .billing).first { $0.version == 100 })
        let earlier = Migration(
            version: 100, name: current.name,
            sql: current.sql.replacingOccurrences(
                of:
                    "-- Platform tables and functions (outbox, inbox, audit_log, enable_tenant_isolation) come from the\n-- Storage library as versions 1-99 (PlatformMigrations.swift);",
                with: "-- Platform tables (outbox, inbox, audit_log) come from the Storage library as versions 1-3;"))
        #expect(ContentHash.sha256Hex(Data(earlier.sql.utf8)) == "c23b47a456a857c04146bfb682ee8eee17787dc0716a2f92b6874c5798e2c9b4", "the text billing shipped before")
        try await TestDatabase.withService(TestDatabase.uniqueService("baseline"), migrations: [earlier]) { client, schema in
            let oldRecord = ContentHash.sha256Hex(Data(earlier.sql.utf8))
            try await client.query("UPDATE \(unescaped: schema.name).schema_migrations SET checksum = \(oldRecord) WHERE version = 100", logger: TestDatabase.logger)
            #expect(try await MigrationRunner(schema: schema, serviceMigrations: [current]).migrate(client, logger: TestDatabase.logger) == [])
            #expect(try await client.strings("SELECT checksum FROM \(unescaped: schema.name).schema_migrations WHERE version = 100") == [current.checksum])
        }
    }
}
