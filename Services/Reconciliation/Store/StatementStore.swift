import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// A bank account as configured, with its CSV mapping.
struct ConfiguredBankAccount: Equatable, Sendable {
    var account: BankAccount
    var csvMapping: BankCSVMapping?
}

/// A statement as stored.
struct StoredStatement: Equatable, Sendable {
    var statementID: String
    var accountID: String
    var format: StatementFormat
    var contentSHA256: String
    var bankStatementRef: String?
    var openingMinor: Int64
    var closingMinor: Int64
    var currency: CurrencyCode
    var lineCount: Int
    var newLineCount: Int
    var uploadedAt: Date
    var uploadedBy: String
}

/// The SQL of bank accounts, statements and their lines, inside the caller's tenant transaction.
struct StatementStore: Sendable {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger

    func account(_ accountID: String, forUpdate: Bool = false) async throws -> ConfiguredBankAccount? {
        let rows = try await connection.query(
            """
            SELECT account_id, currency, settlement_window_days, csv_mapping::text FROM \(unescaped: schema.name).bank_accounts
            WHERE org_id = current_setting('tally.org_id', true) AND account_id = \(accountID) \(unescaped: forUpdate ? "FOR UPDATE" : "")
            """, logger: logger)
        return try await Self.accounts(rows).first
    }

    func accounts() async throws -> [ConfiguredBankAccount] {
        try await Self.accounts(
            try await connection.query(
                """
                SELECT account_id, currency, settlement_window_days, csv_mapping::text FROM \(unescaped: schema.name).bank_accounts
                WHERE org_id = current_setting('tally.org_id', true) ORDER BY account_id
                """, logger: logger))
    }

    static func accounts(_ rows: PostgresRowSequence) async throws -> [ConfiguredBankAccount] {
        var found: [ConfiguredBankAccount] = []
        for try await (id, currency, window, mapping) in rows.decode((String, String, Int32, String?).self) {
            guard let code = CurrencyCode(rawValue: currency) else { throw UnreadableRow(table: "bank_accounts", key: id) }
            let csv = try mapping.map { try JSONDecoder().decode(BankCSVMapping.self, from: Data($0.utf8)) }
            found.append(ConfiguredBankAccount(account: BankAccount(accountID: id, currency: code, settlementWindowDays: Int(window)), csvMapping: csv))
        }
        return found
    }

    func save(_ configured: ConfiguredBankAccount, now: Date) async throws {
        let mapping = try configured.csvMapping.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).bank_accounts (org_id, account_id, currency, settlement_window_days, csv_mapping, created_at, updated_at)
            VALUES (current_setting('tally.org_id', true), \(configured.account.accountID), \(configured.account.currency.rawValue),
                \(Int32(configured.account.settlementWindowDays)), \(mapping)::jsonb, \(now), \(now))
            ON CONFLICT (org_id, account_id) DO UPDATE SET currency = EXCLUDED.currency, settlement_window_days = EXCLUDED.settlement_window_days,
                csv_mapping = EXCLUDED.csv_mapping, updated_at = EXCLUDED.updated_at
            """, logger: logger)
    }

    /// Whether the account already has statements (its currency is then fixed).
    func hasStatements(_ accountID: String) async throws -> Bool {
        let rows = try await connection.query(
            """
            SELECT 1 FROM \(unescaped: schema.name).bank_statements WHERE org_id = current_setting('tally.org_id', true) AND account_id = \(accountID) LIMIT 1
            """, logger: logger)
        for try await _ in rows.decode(Int.self) { return true }
        return false
    }

    static let statementColumns = """
        statement_id, account_id, format, content_sha256, bank_statement_ref, opening_minor, closing_minor, currency, line_count, new_line_count,
        uploaded_at, uploaded_by
        """

    func statement(contentSHA256: String) async throws -> StoredStatement? {
        try await Self.statements(
            try await connection.query(
                """
                SELECT \(unescaped: Self.statementColumns) FROM \(unescaped: schema.name).bank_statements
                WHERE org_id = current_setting('tally.org_id', true) AND content_sha256 = \(contentSHA256)
                """, logger: logger)
        ).first
    }

    func statements(after: String?, limit: Int) async throws -> [StoredStatement] {
        try await Self.statements(
            try await connection.query(
                """
                SELECT \(unescaped: Self.statementColumns) FROM \(unescaped: schema.name).bank_statements
                WHERE org_id = current_setting('tally.org_id', true) AND (\(after)::text IS NULL OR statement_id > \(after))
                ORDER BY statement_id LIMIT \(Int32(limit))
                """, logger: logger))
    }

    static func statements(_ rows: PostgresRowSequence) async throws -> [StoredStatement] {
        var found: [StoredStatement] = []
        for try await (id, account, format, hash, ref, opening, closing, currency, count, new, at, by) in rows.decode(
            (String, String, String, String, String?, Int64, Int64, String, Int32, Int32, Date, String).self)
        {
            guard let format = StatementFormat(rawValue: format), let code = CurrencyCode(rawValue: currency) else { throw UnreadableRow(table: "bank_statements", key: id) }
            found.append(
                StoredStatement(
                    statementID: id, accountID: account, format: format, contentSHA256: hash, bankStatementRef: ref, openingMinor: opening, closingMinor: closing,
                    currency: code, lineCount: Int(count), newLineCount: Int(new), uploadedAt: at, uploadedBy: by))
        }
        return found
    }

    /// The account's lines already recorded under these references.
    func lines(account: String, references: [String]) async throws -> [String: BankLine] {
        let lines = try await ReconciliationRows.lines(
            try await connection.query(
                """
                SELECT \(unescaped: PostgresReconciliationStore.lineColumns) FROM \(unescaped: schema.name).bank_lines
                WHERE org_id = current_setting('tally.org_id', true) AND account_id = \(account) AND bank_reference = ANY(\(references)::text[])
                """, logger: logger))
        return Dictionary(lines.map { ($0.bankReference, $0) }, uniquingKeysWith: { a, _ in a })
    }

    func insert(_ statement: StoredStatement, lines: [BankLine]) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).bank_statements (org_id, statement_id, account_id, format, content_sha256, bank_statement_ref, opening_minor,
                closing_minor, currency, line_count, new_line_count, uploaded_at, uploaded_by)
            VALUES (current_setting('tally.org_id', true), \(statement.statementID), \(statement.accountID), \(statement.format.rawValue), \(statement.contentSHA256),
                \(statement.bankStatementRef), \(statement.openingMinor), \(statement.closingMinor), \(statement.currency.rawValue), \(Int32(statement.lineCount)),
                \(Int32(statement.newLineCount)), \(statement.uploadedAt), \(statement.uploadedBy))
            """, logger: logger)
        guard !lines.isEmpty else { return }
        // Tokens travel as one space-joined string per line (words never hold spaces).
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).bank_lines (org_id, account_id, bank_reference, statement_id, booked_on, amount_minor, currency, text, tokens)
            SELECT current_setting('tally.org_id', true), account, reference, \(statement.statementID), booked::date, amount, currency, text,
                   CASE WHEN words = '' THEN '{}'::text[] ELSE string_to_array(words, ' ') END
            FROM unnest(\(lines.map(\.accountID))::text[], \(lines.map(\.bankReference))::text[], \(lines.map(\.booked.description))::text[],
                        \(lines.map(\.amount.amountMinor))::bigint[], \(lines.map(\.amount.currency.rawValue))::text[], \(lines.map(\.text))::text[],
                        \(lines.map { $0.tokens.sorted().joined(separator: " ") })::text[])
                AS l(account, reference, booked, amount, currency, text, words)
            ON CONFLICT (org_id, account_id, bank_reference) DO NOTHING
            """, logger: logger)
    }
}
