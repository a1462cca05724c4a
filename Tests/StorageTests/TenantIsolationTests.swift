import Contracts
import Foundation
import PostgresNIO
import Storage
import TallyTestSupport
import Testing

/// `enable_tenant_isolation()`, the one tenant policy every service's migrations use.
@Suite("Tenant isolation through the platform function", .enabled(if: TestDatabase.enabled), .serialized)
struct TenantIsolationTests {
    static let tables = Migration(
        version: 100, name: "tables",
        sql: """
            CREATE TABLE notes (id int PRIMARY KEY, org_id text NOT NULL, body text NOT NULL);
            SELECT enable_tenant_isolation('notes', operator_read => true);
            CREATE TABLE attempts (id int PRIMARY KEY, org_id text, reason text NOT NULL);
            SELECT enable_tenant_isolation('attempts', writers => 'anyone');
            """)

    let acme = TenantID(rawValue: "org_acme")!
    let globex = TenantID(rawValue: "org_globex")!

    @Test func tenantsSeeOnlyTheirRowsAndOperatorsReadWithoutWriting() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("iso"), migrations: [Self.tables]) { client, schema in
            let logger = TestDatabase.logger
            for (org, id) in [(acme, 1), (globex, 2)] {
                try await client.withTenantTransaction(org, logger: logger) { connection in
                    try await connection.query("INSERT INTO \(unescaped: schema.name).notes VALUES (\(id), \(org.rawValue), 'n')", logger: logger)
                }
            }
            await #expect(throws: (any Error).self, "a row of another org cannot be written") {
                try await client.withTenantTransaction(acme, logger: logger) { connection in
                    try await connection.query("INSERT INTO \(unescaped: schema.name).notes VALUES (3, 'org_globex', 'n')", logger: logger)
                }
            }
            let seen = try await client.withTenantTransaction(acme, logger: logger) { connection in
                try await connection.query("SELECT id FROM \(unescaped: schema.name).notes", logger: logger).decode(Int.self).collect()
            }
            #expect(seen == [1])
            #expect(try await client.strings("SELECT count(*)::text FROM \(unescaped: schema.name).notes") == ["0"], "no org set: nothing")
            let operatorCount = try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
                return try await connection.query("SELECT count(*)::int FROM \(unescaped: schema.name).notes", logger: logger).decode(Int.self).collect()
            }
            #expect(operatorCount == [2], "operators read every org")
            await #expect(throws: (any Error).self, "operators write nothing") {
                try await client.withTransaction(logger: logger) { connection in
                    try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
                    try await connection.query("INSERT INTO \(unescaped: schema.name).notes VALUES (4, 'org_acme', 'n')", logger: logger)
                }
            }
        }
    }

    @Test func aLogAnyoneMayWriteIsReadOnlyByItsOwnOrg() async throws {
        try await TestDatabase.withService(TestDatabase.uniqueService("isolog"), migrations: [Self.tables]) { client, schema in
            let logger = TestDatabase.logger
            try await client.query("INSERT INTO \(unescaped: schema.name).attempts VALUES (1, 'org_acme', 'bad signature'), (2, NULL, 'unknown source')", logger: logger)
            let acmeSees = try await client.withTenantTransaction(acme, logger: logger) { connection in
                try await connection.query("SELECT id FROM \(unescaped: schema.name).attempts", logger: logger).decode(Int.self).collect()
            }
            #expect(acmeSees == [1])
            let globexSees = try await client.withTenantTransaction(globex, logger: logger) { connection in
                try await connection.query("SELECT id FROM \(unescaped: schema.name).attempts", logger: logger).decode(Int.self).collect()
            }
            #expect(globexSees.isEmpty)
            try await client.query("DELETE FROM \(unescaped: schema.name).attempts", logger: logger)
            let left = try await TestDatabase.withClient(try TestDatabase.adminConfiguration()) { admin in
                try await admin.strings("SELECT count(*)::text FROM \(unescaped: schema.name).attempts")
            }
            #expect(left == ["0"], "the log can be trimmed by anyone")
        }
    }

    @Test func aTableWithoutAnOrgOrAnUnknownWriterModeIsRefused() async throws {
        for sql in [
            "CREATE TABLE loose (id int); SELECT enable_tenant_isolation('loose');",
            "CREATE TABLE odd (id int, org_id text); SELECT enable_tenant_isolation('odd', writers => 'everyone');",
        ] {
            await #expect(throws: (any Error).self) {
                try await TestDatabase.withService(TestDatabase.uniqueService("isobad"), migrations: [Migration(version: 100, name: "bad", sql: sql)]) { _, _ in }
            }
        }
    }

    /// Tables with an org column that are deliberately read across orgs, and why.
    static let sharedTables: [String: String] = [
        "outbox": "the relay publishes every org's events; no request reads it",
        "source_directory": "routes a public webhook to its org before the org is known; holds no secret",
    ]

    /// Every service's schema at head: each table with an org (but the shared ones) is under
    /// forced row-level security, and every policy is one the function creates (no hand-written
    /// policy survives the migrations that moved old tables onto it).
    @Test(arguments: TallyService.all)
    func everyServiceTableIsIsolatedOnlyThroughTheFunction(_ service: TallyService) async throws {
        try await TestDatabase.withService(
            TestDatabase.uniqueService(service.schema.replacingOccurrences(of: "_", with: "-")),
            migrations: try TestService.migrations(of: service)
        ) { client, schema in
            let tables = try await client.query(
                """
                SELECT c.relname::text, c.relrowsecurity AND c.relforcerowsecurity
                FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped
                WHERE c.relnamespace = \(schema.name)::regnamespace AND c.relkind = 'r'
                """, logger: TestDatabase.logger
            ).decode((String, Bool).self).collect()
            #expect(!tables.isEmpty, "at least the audit log has an org")
            for (table, forced) in tables where Self.sharedTables[table] == nil {
                #expect(forced, "\(schema.name).\(table) is under forced row-level security")
            }
            let policies = try await client.query(
                """
                SELECT tablename::text, policyname::text, coalesce(qual, '') FROM pg_policies WHERE schemaname = \(schema.name)
                """, logger: TestDatabase.logger
            ).decode((String, String, String).self).collect()
            for (table, policy, qual) in policies {
                let made = ["tenant", "tenant_read", "insert", "trim", "operator_read"].map { "\(table)_\($0)" }
                #expect(made.contains(policy), "\(table): policy \(policy) was not made by enable_tenant_isolation()")
                if policy.hasSuffix("_tenant") || policy.hasSuffix("_tenant_read") {
                    #expect(qual.contains("SELECT current_setting('tally.org_id'"), "\(table).\(policy) reads the org once per statement: \(qual)")
                }
            }
        }
    }
}
