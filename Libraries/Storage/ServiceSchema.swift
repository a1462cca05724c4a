import Logging
import PostgresNIO

/// A service's own corner of the database: one schema and one login role that may use only
/// that schema. Names are checked to be plain lowercase identifiers, so they can be quoted safely.
public struct ServiceSchema: Sendable, Equatable {
    /// The schema, e.g. `ingest_gateway`.
    public let name: String
    /// The login role, e.g. `tally_ingest_gateway`.
    public let role: String

    /// The schema of a service named like its executable (`ingest-gateway` → `ingest_gateway`).
    public init(service: String) throws(StorageError) {
        let name = service.replacingOccurrences(of: "-", with: "_")
        try self.init(name: name, role: "tally_\(name)")
    }

    public init(name: String, role: String) throws(StorageError) {
        for identifier in [name, role] {
            guard let first = identifier.utf8.first, (97...122).contains(first),
                identifier.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 95 }),
                identifier.utf8.count <= 63
            else {
                throw StorageError.invalidIdentifier(identifier)
            }
        }
        self.name = name
        self.role = role
    }

    /// Creates the role (or resets its password) and the schema it owns, and takes away every
    /// privilege it could use elsewhere. Runs as an administrator; safe to repeat.
    public func provision(using admin: PostgresClient, password: String, logger: Logger) async throws {
        let escapedPassword = password.replacingOccurrences(of: "'", with: "''")
        // Role and schema names are validated identifiers; DDL cannot take bind parameters.
        let statements = [
            """
            DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '\(role)') THEN
                CREATE ROLE \(role) LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
              END IF;
            END $$;
            """,
            "ALTER ROLE \(role) WITH LOGIN PASSWORD '\(escapedPassword)' NOBYPASSRLS",
            "CREATE SCHEMA IF NOT EXISTS \(name) AUTHORIZATION \(role)",
            "ALTER SCHEMA \(name) OWNER TO \(role)",
            "REVOKE ALL ON SCHEMA public FROM \(role)",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            "ALTER ROLE \(role) SET search_path = \(name)",
        ]
        try await admin.withConnection { connection in
            // One advisory lock for all provisioning, so parallel service starts do not race on
            // CREATE ROLE.
            try await connection.query("SELECT pg_advisory_lock(7301001)", logger: logger)
            do {
                for statement in statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(7301001)", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(7301001)", logger: logger)
        }
    }
}
