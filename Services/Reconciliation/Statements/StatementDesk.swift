import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// Uploading a bank statement: read it, check it, keep its new lines and re-check the items
/// around them, all in the caller's tenant transaction (so a refused statement leaves nothing).
///
/// Guarantees: the same file uploaded again is recognised by its SHA-256 and changes nothing;
/// a line whose bank reference the account already has is kept once (overlapping statements
/// are normal) and must state the same amount and date; a statement that does not balance,
/// is in another currency or repeats a reference is refused with the numbers.
struct StatementDesk: Sendable {
    let schema: ServiceSchema
    let logger: Logger
    let now: @Sendable () -> Date

    struct Upload: Sendable {
        var accountID: String
        var format: StatementFormat
        var bytes: [UInt8]
        /// For CSV files without a balance column.
        var openingMinor: Int64?
        var closingMinor: Int64?
        var actor: String
        var correlationID: String
    }

    enum Outcome: Sendable {
        case recorded(StoredStatement, MatchingPass.Summary)
        case alreadyUploaded(StoredStatement)
    }

    enum Refusal: Error, Equatable {
        case unknownAccount(String)
        case noCSVMapping(String)
        case statement(StatementRefusal)
    }

    func upload(_ upload: Upload, org: TenantID, on connection: PostgresConnection) async throws -> Result<Outcome, Refusal> {
        let statements = StatementStore(schema: schema, connection: connection, logger: logger)
        guard let configured = try await statements.account(upload.accountID, forUpdate: true) else { return .failure(.unknownAccount(upload.accountID)) }
        let hash = ContentHash.sha256Hex(upload.bytes)
        if let existing = try await statements.statement(contentSHA256: hash) { return .success(.alreadyUploaded(existing)) }
        let parsed: Result<ParsedStatement, StatementRefusal>
        switch upload.format {
        case .csv:
            guard let mapping = configured.csvMapping else { return .failure(.noCSVMapping(upload.accountID)) }
            parsed = CSVStatementReader.read(
                upload.bytes, mapping: mapping, currency: configured.account.currency, openingMinor: upload.openingMinor, closingMinor: upload.closingMinor)
        case .camt053:
            parsed = Camt053Reader.read(upload.bytes)
        }
        let statement: ParsedStatement
        let lines: [ParsedStatement.Line]
        switch parsed.flatMap({ parsed in StatementRules.check(parsed, account: configured.account).map { (parsed, $0) } }) {
        case .success(let (checked, checkedLines)):
            statement = checked
            lines = checkedLines
        case .failure(let refusal): return .failure(.statement(refusal))
        }
        let known = try await statements.lines(account: upload.accountID, references: lines.map(\.reference))
        var fresh: [BankLine] = []
        let statementID = "stm_" + ContentHash.sha256Hex(Array("\(org.rawValue)\n\(hash)".utf8)).prefix(20)
        for line in lines {
            if let recorded = known[line.reference] {
                if let conflict = StatementRules.conflict(recorded: recorded, offered: line) { return .failure(.statement(conflict)) }
                continue
            }
            fresh.append(
                BankLine(
                    accountID: upload.accountID, bankReference: line.reference, statementID: statementID, booked: line.booked,
                    amount: Money(amountMinor: line.amountMinor, currency: configured.account.currency), text: line.text))
        }
        let time = now()
        let stored = StoredStatement(
            statementID: statementID, accountID: upload.accountID, format: statement.format, contentSHA256: hash, bankStatementRef: statement.bankStatementRef,
            openingMinor: statement.openingMinor, closingMinor: statement.closingMinor, currency: configured.account.currency, lineCount: lines.count,
            newLineCount: fresh.count, uploadedAt: time, uploadedBy: upload.actor)
        try await statements.insert(stored, lines: fresh)
        let pass = MatchingPass(tenant: org, now: time, correlationID: upload.correlationID, causationID: nil)
        let summary = try await pass.run(
            around: Set(fresh.map(Neighborhood.ref)), store: PostgresReconciliationStore(schema: schema, connection: connection, logger: logger))
        return .success(.recorded(stored, summary))
    }
}
