/// Failures of the storage layer that a service must be able to tell apart.
public enum StorageError: Error, Equatable, CustomStringConvertible {
    /// A schema or role name that is not a plain lowercase identifier.
    case invalidIdentifier(String)
    /// An already-applied migration's file changed: the service refuses to start.
    case migrationChanged(version: Int, name: String, recorded: String, found: String)
    /// Migration files are misnumbered (duplicate or non-numeric version).
    case invalidMigrationFile(String)
    /// The database has migrations this build does not know: it is older than the schema.
    case unknownAppliedMigration(version: Int)
    /// A tenant transaction was started without an org id.
    case missingTenant

    public var description: String {
        switch self {
        case .invalidIdentifier(let name):
            "'\(name)' is not a valid schema or role name (lowercase letters, digits, underscores)"
        case .migrationChanged(let version, let name, let recorded, let found):
            "migration \(version) (\(name)) was changed after it was applied: recorded checksum \(recorded.prefix(12))…, file now \(found.prefix(12))…; add a new migration instead of editing an applied one"
        case .invalidMigrationFile(let file):
            "migration file '\(file)' must be named NNNN_description.sql with a unique number"
        case .unknownAppliedMigration(let version):
            "the database has migration \(version) applied, which this build does not ship; deploy a newer build"
        case .missingTenant:
            "a tenant transaction needs a non-empty org id"
        }
    }
}
