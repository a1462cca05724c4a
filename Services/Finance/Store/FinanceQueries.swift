import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// One account's balance in one currency.
struct AccountBalance: Hashable, Sendable {
    var account: String
    var currency: CurrencyCode
    var balanceMinor: Int64
}

/// One line of an account statement.
struct StatementLine: Hashable, Sendable {
    var transactionID: Int64
    var sequence: Int64
    var postedAt: Date
    var key: String
    var kind: String
    var amountMinor: Int64
}

/// A conflict as listed for a person.
struct ConflictRow: Hashable, Sendable {
    var id: Int64
    var conflict: LedgerConflict
    var createdAt: Date
    var resolvedAt: Date?
    var resolvedBy: String?
    var resolutionNote: String?
}

/// A payment's timeline row.
struct TimelineRow: Hashable, Sendable {
    var eventID: String
    var eventType: String
    var occurredAt: Date
    var transactionID: Int64?
    var note: String?
}

/// Reads for the admin routes, each in its own tenant transaction, and the commands that are
/// not refund requests (conflict resolution).
struct FinanceQueries: Sendable {
    let client: PostgresClient
    let schema: ServiceSchema
    let logger: Logger

    func inTenant<Result: Sendable>(_ org: TenantID, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await client.withTenantTransaction(org, logger: logger, body)
    }

    /// A tenant transaction whose statements all read one snapshot (REPEATABLE READ), for the
    /// reads that must agree with each other: the consistency check and the journal.
    func inTenantSnapshot<Result: Sendable>(_ org: TenantID, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            try await connection.setTenant(org, logger: logger)
            return try await body(connection)
        }
    }

    // MARK: Ledger

    func accounts(org: TenantID) async throws -> [(code: String, kind: String, createdAt: Date)] {
        try await inTenant(org) { connection in
            var accounts: [(code: String, kind: String, createdAt: Date)] = []
            for try await row in try await connection.query(
                "SELECT code, kind, created_at FROM \(unescaped: schema.name).accounts ORDER BY code", logger: logger
            ).decode((String, String, Date).self) { accounts.append(row) }
            return accounts
        }
    }

    /// Balances of entries posted at or before `asOf` (all when nil); zero balances left out.
    func balances(org: TenantID, asOf: Date?) async throws -> [AccountBalance] {
        try await inTenant(org) { connection in try await balances(asOf: asOf, before: nil, connection: connection) }
    }

    func balances(asOf: Date?, before: Date?, connection: PostgresConnection) async throws -> [AccountBalance] {
        var balances: [AccountBalance] = []
        for try await (account, currency, sum) in try await connection.query(
            """
            SELECT account, currency, sum(amount_minor)::bigint FROM \(unescaped: schema.name).ledger_entries
            WHERE (\(asOf)::timestamptz IS NULL OR posted_at <= \(asOf)) AND (\(before)::timestamptz IS NULL OR posted_at < \(before))
            GROUP BY account, currency HAVING sum(amount_minor) <> 0 ORDER BY account, currency
            """, logger: logger
        ).decode((String, String, Int64).self) {
            guard let code = CurrencyCode(rawValue: currency) else { throw UnreadableFinanceRow(table: "ledger_entries", id: account) }
            balances.append(AccountBalance(account: account, currency: code, balanceMinor: sum))
        }
        return balances
    }

    /// A page of one account's entries in one currency, in posting order after sequence `after`,
    /// with the balance before the page's first entry; nil when the org's chart has no such account.
    func statement(
        org: TenantID, account: String, currency: CurrencyCode, from: Date?, to: Date?, after: Int64, limit: Int
    ) async throws -> (opening: Int64, lines: [StatementLine])? {
        try await inTenant(org) { connection in
            var known = false
            for try await _ in try await connection.query(
                "SELECT 1 FROM \(unescaped: schema.name).accounts WHERE code = \(account)", logger: logger
            ).decode(Int.self) { known = true }
            guard known else { return nil }
            var lines: [StatementLine] = []
            for try await (id, sequence, postedAt, key, kind, amount) in try await connection.query(
                """
                SELECT e.transaction_id, e.sequence, e.posted_at, t.key, t.kind, e.amount_minor
                FROM \(unescaped: schema.name).ledger_entries e JOIN \(unescaped: schema.name).ledger_transactions t ON t.id = e.transaction_id
                WHERE e.account = \(account) AND e.currency = \(currency.rawValue) AND e.sequence > \(after)
                  AND (\(from)::timestamptz IS NULL OR e.posted_at >= \(from)) AND (\(to)::timestamptz IS NULL OR e.posted_at < \(to))
                ORDER BY e.sequence, e.line LIMIT \(limit)
                """, logger: logger
            ).decode((Int64, Int64, Date, String, String, Int64).self) {
                lines.append(StatementLine(transactionID: id, sequence: sequence, postedAt: postedAt, key: key, kind: kind, amountMinor: amount))
            }
            let firstSequence = lines.first?.sequence ?? Int64.max
            var opening: Int64 = 0
            for try await sum in try await connection.query(
                """
                SELECT coalesce(sum(amount_minor), 0)::bigint FROM \(unescaped: schema.name).ledger_entries
                WHERE account = \(account) AND currency = \(currency.rawValue) AND sequence < \(firstSequence)
                  AND (\(lines.isEmpty ? to : nil)::timestamptz IS NULL OR posted_at < \(lines.isEmpty ? to : nil))
                """, logger: logger
            ).decode(Int64.self) { opening = sum }
            return (opening, lines)
        }
    }

    func transactions(org: TenantID, after: Int64, limit: Int) async throws -> [PostedTransaction] {
        try await inTenant(org) { connection in
            try await LedgerRows.transactions(where: "t.sequence > $1", [.integer(after)], limit: limit, schema: schema, connection: connection, logger: logger)
        }
    }

    func transaction(org: TenantID, id: Int64) async throws -> PostedTransaction? {
        try await inTenant(org) { connection in
            try await LedgerRows.transactions(where: "t.id = $1", [.integer(id)], schema: schema, connection: connection, logger: logger).first
        }
    }

    func conflicts(org: TenantID, status: String, after: Int64, limit: Int) async throws -> [ConflictRow] {
        try await inTenant(org) { connection in try await conflicts(where: status, after: after, limit: limit, connection: connection) }
    }

    private func conflicts(where status: String, after: Int64, limit: Int, connection: PostgresConnection) async throws -> [ConflictRow] {
        var rows: [ConflictRow] = []
        for try await (id, key, code, field, recorded, offered, cause, createdAt, resolvedAt, resolvedBy, note) in try await connection.query(
            """
            SELECT id, key, code, field, recorded, offered, cause_event_id, created_at, resolved_at, resolved_by, resolution_note
            FROM \(unescaped: schema.name).ledger_conflicts
            WHERE org_id = current_setting('tally.org_id', true) AND id > \(after) AND (\(status) = 'all' OR (\(status) = 'open') = (resolved_at IS NULL))
            ORDER BY id LIMIT \(limit)
            """, logger: logger
        ).decode((Int64, String, String, String, String, String, String, Date, Date?, String?, String?).self) {
            guard let code = ConflictCode(rawValue: code) else { throw UnreadableFinanceRow(table: "ledger_conflicts", id: "\(id)") }
            rows.append(
                ConflictRow(
                    id: id, conflict: LedgerConflict(key: key, code: code, field: field, recorded: recorded, offered: offered, causeEventID: cause),
                    createdAt: createdAt, resolvedAt: resolvedAt, resolvedBy: resolvedBy, resolutionNote: note))
        }
        return rows
    }

    enum ResolveOutcome: Sendable {
        case resolved(ConflictRow)
        case alreadyResolved(ConflictRow)
        case unknown
    }

    /// Marks a conflict resolved with a person's note, audited in the same transaction.
    func resolveConflict(org: TenantID, id: Int64, note: String, actor: String, correlationID: String?, audit: AuditLog, now: Date) async throws -> ResolveOutcome {
        try await inTenant(org) { connection in
            guard let before = try await conflicts(where: "all", after: id - 1, limit: 1, connection: connection).first, before.id == id else { return .unknown }
            guard before.resolvedAt == nil else { return .alreadyResolved(before) }
            try await connection.query(
                """
                UPDATE \(unescaped: schema.name).ledger_conflicts SET resolved_at = \(now), resolved_by = \(actor), resolution_note = \(note)
                WHERE org_id = current_setting('tally.org_id', true) AND id = \(id) AND resolved_at IS NULL
                """, logger: logger)
            var after = before
            after.resolvedAt = now
            after.resolvedBy = actor
            after.resolutionNote = note
            try await audit.record(
                org: org, actor: actor, action: "ledger.conflict.resolve", target: "conflict:\(id)", before: ["resolved": "false"],
                after: ["resolved": "true", "note": note], correlationID: correlationID, on: connection, logger: logger)
            return .resolved(after)
        }
    }

    /// Everything the consistency check reads, in one snapshot.
    func verification(org: TenantID, now: Date) async throws -> LedgerVerification {
        try await inTenantSnapshot(org) { connection in
            let transactions = try await LedgerRows.transactions(where: "true", [], schema: schema, connection: connection, logger: logger)
            let payments = try await PaymentRows.select(where: "true", [], schema: schema, connection: connection, logger: logger)
            var open: [LedgerVerification.OpenConflict] = []
            for try await (id, key, createdAt) in try await connection.query(
                "SELECT id, key, created_at FROM \(unescaped: schema.name).ledger_conflicts WHERE org_id = current_setting('tally.org_id', true) AND resolved_at IS NULL ORDER BY id",
                logger: logger
            ).decode((Int64, String, Date).self) { open.append(LedgerVerification.OpenConflict(id: id, key: key, createdAt: createdAt)) }
            var head = LedgerVerification.Head(sequence: 0, chainHash: LedgerSeal.genesis)
            for try await (sequence, chain) in try await connection.query(
                "SELECT sequence, chain_sha256 FROM \(unescaped: schema.name).ledger_heads WHERE org_id = current_setting('tally.org_id', true)", logger: logger
            ).decode((Int64, String).self) { head = LedgerVerification.Head(sequence: sequence, chainHash: chain) }
            return LedgerVerification(transactions: transactions, payments: payments, openConflicts: open, head: head, now: now, hash: ContentHash.sha256Hex)
        }
    }

    /// The journal of transactions posted in [from, to), with the balances before `from`.
    func journal(org: TenantID, from: Date?, to: Date?, now: Date) async throws -> String {
        try await inTenantSnapshot(org) { connection in
            let opening = from == nil ? [] : try await balances(asOf: nil, before: from, connection: connection)
            let transactions = try await LedgerRows.transactions(
                where: "($1::timestamptz IS NULL OR t.posted_at >= $1) AND ($2::timestamptz IS NULL OR t.posted_at < $2)", [.time(from), .time(to)], schema: schema,
                connection: connection, logger: logger)
            return Journal.render(
                org: org.rawValue, opening: opening.map { Journal.Balance(account: $0.account, currency: $0.currency, minor: $0.balanceMinor) },
                transactions: transactions, periodStart: from, periodEnd: to ?? now, generatedAt: now)
        }
    }

    // MARK: Payments

    func payments(org: TenantID, status: PaymentStatus?, after: String?, limit: Int) async throws -> [(record: PaymentRecord, updatedAt: Date)] {
        try await inTenant(org) { connection in
            try await PaymentRows.selectWithTimes(
                where: "($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR provider || ':' || payment_id > $2) ORDER BY provider || ':' || payment_id LIMIT \(limit)",
                [.text(status?.rawValue), .text(after)], schema: schema, connection: connection, logger: logger)
        }
    }

    func payment(org: TenantID, _ key: PaymentKey) async throws -> (record: PaymentRecord, updatedAt: Date, timeline: [TimelineRow])? {
        try await inTenant(org) { connection in
            guard
                let found = try await PaymentRows.selectWithTimes(
                    where: "provider = $1 AND payment_id = $2", [.text(key.provider.rawValue), .text(key.paymentID)], schema: schema, connection: connection, logger: logger
                ).first
            else { return nil }
            var timeline: [TimelineRow] = []
            for try await (eventID, eventType, occurredAt, transactionID, note) in try await connection.query(
                """
                SELECT event_id, event_type, occurred_at, transaction_id, note FROM \(unescaped: schema.name).payment_events
                WHERE provider = \(key.provider.rawValue) AND payment_id = \(key.paymentID) ORDER BY recorded_at, event_id
                """, logger: logger
            ).decode((String, String, Date, Int64?, String?).self) {
                timeline.append(TimelineRow(eventID: eventID, eventType: eventType, occurredAt: occurredAt, transactionID: transactionID, note: note))
            }
            return (found.record, found.updatedAt, timeline)
        }
    }

    /// Payments with this id at any provider (a refund request may omit the provider).
    func payments(org: TenantID, id: String) async throws -> [PaymentKey] {
        try await inTenant(org) { connection in
            try await PaymentRows.select(where: "payment_id = $1 ORDER BY provider", [.text(id)], schema: schema, connection: connection, logger: logger).map(\.key)
        }
    }

    // MARK: Payouts

    func payouts(org: TenantID, from: Date?, to: Date?, after: String?, limit: Int) async throws -> [PayoutRecord] {
        try await inTenant(org) { connection in
            var payouts: [PayoutRecord] = []
            for try await (provider, payoutID, status, amount, currency, fees, arrival, occurredAt, refs, transactionID) in try await connection.query(
                """
                SELECT provider, payout_id, status, amount_minor, currency, fees_minor, arrival_date::text, occurred_at, payment_refs, transaction_id
                FROM \(unescaped: schema.name).payouts
                WHERE (\(from)::timestamptz IS NULL OR occurred_at >= \(from)) AND (\(to)::timestamptz IS NULL OR occurred_at < \(to))
                  AND (\(after)::text IS NULL OR provider || ':' || payout_id > \(after))
                ORDER BY provider || ':' || payout_id LIMIT \(limit)
                """, logger: logger
            ).decode((String, String, String, Int64, String, Int64?, String, Date, [String], Int64?).self) {
                guard let provider = WebhookProvider(rawValue: provider), let status = PayoutRecord.Status(rawValue: status), let code = CurrencyCode(rawValue: currency)
                else { throw UnreadableFinanceRow(table: "payouts", id: payoutID) }
                payouts.append(
                    PayoutRecord(
                        provider: provider, payoutID: payoutID, status: status, amount: Money(amountMinor: amount, currency: code),
                        fees: fees.map { Money(amountMinor: $0, currency: code) }, arrivalDate: arrival, occurredAt: occurredAt, paymentRefs: refs,
                        transactionID: transactionID))
            }
            return payouts
        }
    }
}
