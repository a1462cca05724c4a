import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// The reconciliation schema's SQL for matching, on a connection whose transaction set the org
/// (`setTenant`). Every row written carries that org; RLS keeps other orgs out.
struct PostgresReconciliationStore: ReconciliationStore {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger

    var orders: PostgresExpectedOrderStore { PostgresExpectedOrderStore(schema: schema, connection: connection, logger: logger) }

    // MARK: Facts

    func order(_ orderID: String) async throws -> ExpectedOrder? { try await orders.order(orderID) }
    func insert(_ order: ExpectedOrder) async throws { try await orders.insert(order) }

    func record(_ payment: CapturedPayment) async throws -> Bool {
        try await inserted(
            """
            INSERT INTO \(unescaped: schema.name).payments (org_id, payment_id, provider, amount_minor, currency, fee_minor, fee_currency, net_minor,
                order_ref, invoice_ref, subscription_ref, captured_at, source_event_id)
            VALUES (current_setting('tally.org_id', true), \(payment.paymentID), \(payment.provider.rawValue), \(payment.amount.amountMinor),
                \(payment.amount.currency.rawValue), \(payment.fee?.amountMinor), \(payment.fee?.currency.rawValue), \(payment.net), \(payment.orderRef),
                \(payment.invoiceRef), \(payment.subscriptionRef), \(payment.capturedAt), \(payment.sourceEventID))
            ON CONFLICT (org_id, payment_id) DO NOTHING RETURNING 1
            """)
    }

    func record(_ adjustment: PaymentAdjustment) async throws -> Bool {
        try await inserted(
            """
            INSERT INTO \(unescaped: schema.name).payment_adjustments (org_id, kind, adjustment_id, payment_id, amount_minor, currency, occurred_at, source_event_id)
            VALUES (current_setting('tally.org_id', true), \(adjustment.kind.rawValue), \(adjustment.adjustmentID), \(adjustment.paymentID),
                \(adjustment.amount.amountMinor), \(adjustment.amount.currency.rawValue), \(adjustment.occurredAt), \(adjustment.sourceEventID))
            ON CONFLICT (org_id, kind, adjustment_id) DO NOTHING RETURNING 1
            """)
    }

    func record(_ payout: ProviderPayout) async throws -> Bool {
        try await inserted(
            """
            INSERT INTO \(unescaped: schema.name).payouts (org_id, payout_id, provider, amount_minor, currency, fees_minor, fees_currency, arrival_date,
                payment_refs, source_event_id)
            VALUES (current_setting('tally.org_id', true), \(payout.payoutID), \(payout.provider.rawValue), \(payout.amount.amountMinor),
                \(payout.amount.currency.rawValue), \(payout.fees?.amountMinor), \(payout.fees?.currency.rawValue), \(payout.arrival.description)::date,
                \(payout.paymentRefs)::text[], \(payout.sourceEventID))
            ON CONFLICT (org_id, payout_id) DO NOTHING RETURNING 1
            """)
    }

    func record(_ posting: LedgerTrailEntry) async throws -> Bool {
        let entries = String(decoding: try JSONEncoder().encode(posting.entries), as: UTF8.self)
        return try await inserted(
            """
            INSERT INTO \(unescaped: schema.name).ledger_transactions (org_id, transaction_id, sequence, key, kind, subject, posted_at, entries)
            VALUES (current_setting('tally.org_id', true), \(posting.transactionID), \(posting.sequence), \(posting.key), \(posting.kind), \(posting.subject),
                \(posting.postedAt), \(entries)::jsonb)
            ON CONFLICT (org_id, transaction_id) DO NOTHING RETURNING 1
            """)
    }

    private func inserted(_ query: PostgresQuery) async throws -> Bool {
        for try await _ in try await connection.query(query, logger: logger).decode(Int.self) { return true }
        return false
    }

    // MARK: Lookups

    func orders(ids: Set<String>, payingWith paymentIDs: Set<String>) async throws -> [ExpectedOrder] {
        let rows = try await connection.query(
            """
            SELECT order_id, total_minor, currency, payment_ref, placed_at, source_event_id FROM \(unescaped: schema.name).expected_orders
            WHERE org_id = current_setting('tally.org_id', true) AND (order_id = ANY(\(Array(ids))::text[]) OR payment_ref = ANY(\(Array(paymentIDs))::text[]))
            """, logger: logger)
        var found: [ExpectedOrder] = []
        for try await (id, minor, currency, paymentRef, placedAt, eventID) in rows.decode((String, Int64, String, String?, Date, String).self) {
            found.append(ExpectedOrder(orderID: id, total: try ReconciliationRows.money(minor, currency), paymentRef: paymentRef, placedAt: placedAt, sourceEventID: eventID))
        }
        return found
    }

    static let paymentColumns = """
        payment_id, provider, amount_minor, currency, fee_minor, fee_currency, order_ref, invoice_ref, subscription_ref, captured_at, source_event_id
        """

    func payments(ids: Set<String>, forOrders orderIDs: Set<String>) async throws -> [CapturedPayment] {
        try await ReconciliationRows.payments(
            try await connection.query(
                """
                SELECT \(unescaped: Self.paymentColumns) FROM \(unescaped: schema.name).payments
                WHERE org_id = current_setting('tally.org_id', true)
                  AND (payment_id = ANY(\(Array(ids))::text[]) OR order_ref = ANY(\(Array(orderIDs))::text[]))
                """, logger: logger))
    }

    func payments(in window: AmountWindow) async throws -> [CapturedPayment] {
        try await ReconciliationRows.payments(
            try await connection.query(
                """
                SELECT \(unescaped: Self.paymentColumns) FROM \(unescaped: schema.name).payments
                WHERE org_id = current_setting('tally.org_id', true) AND currency = \(window.currency.rawValue)
                  AND net_minor BETWEEN \(window.minMinor) AND \(window.maxMinor)
                  AND captured_at >= \(window.from.start) AND captured_at < \(window.through.adding(days: 1).start)
                """, logger: logger))
    }

    func adjustments(of paymentIDs: Set<String>) async throws -> [PaymentAdjustment] {
        let rows = try await connection.query(
            """
            SELECT kind, adjustment_id, payment_id, amount_minor, currency, occurred_at, source_event_id FROM \(unescaped: schema.name).payment_adjustments
            WHERE org_id = current_setting('tally.org_id', true) AND payment_id = ANY(\(Array(paymentIDs))::text[])
            """, logger: logger)
        var found: [PaymentAdjustment] = []
        for try await (kind, id, paymentID, minor, currency, at, eventID) in rows.decode((String, String, String, Int64, String, Date, String).self) {
            guard let kind = PaymentAdjustment.Kind(rawValue: kind) else { throw UnreadableRow(table: "payment_adjustments", key: id) }
            found.append(
                PaymentAdjustment(
                    kind: kind, adjustmentID: id, paymentID: paymentID, amount: try ReconciliationRows.money(minor, currency), occurredAt: at, sourceEventID: eventID))
        }
        return found
    }

    static let payoutColumns = """
        payout_id, provider, amount_minor, currency, fees_minor, fees_currency, to_char(arrival_date, 'YYYY-MM-DD'), payment_refs, source_event_id
        """

    func payouts(ids: Set<String>, listing paymentIDs: Set<String>) async throws -> [ProviderPayout] {
        try await ReconciliationRows.payouts(
            try await connection.query(
                """
                SELECT \(unescaped: Self.payoutColumns) FROM \(unescaped: schema.name).payouts
                WHERE org_id = current_setting('tally.org_id', true)
                  AND (payout_id = ANY(\(Array(ids))::text[]) OR payment_refs && \(Array(paymentIDs))::text[])
                """, logger: logger))
    }

    func payouts(named tokens: Set<String>) async throws -> [ProviderPayout] {
        try await ReconciliationRows.payouts(
            try await connection.query(
                """
                SELECT \(unescaped: Self.payoutColumns) FROM \(unescaped: schema.name).payouts
                WHERE org_id = current_setting('tally.org_id', true) AND lower(payout_id) = ANY(\(Array(tokens))::text[])
                """, logger: logger))
    }

    func payouts(in window: AmountWindow) async throws -> [ProviderPayout] {
        try await ReconciliationRows.payouts(
            try await connection.query(
                """
                SELECT \(unescaped: Self.payoutColumns) FROM \(unescaped: schema.name).payouts
                WHERE org_id = current_setting('tally.org_id', true) AND currency = \(window.currency.rawValue)
                  AND amount_minor BETWEEN \(window.minMinor) AND \(window.maxMinor)
                  AND arrival_date BETWEEN \(window.from.description)::date AND \(window.through.description)::date
                """, logger: logger))
    }

    static let lineColumns = """
        account_id, bank_reference, statement_id, to_char(booked_on, 'YYYY-MM-DD'), amount_minor, currency, text
        """

    func bankLines(refs: Set<ItemRef>, naming payoutIDs: Set<String>) async throws -> [BankLine] {
        let pairs = refs.compactMap { ref -> (String, String)? in
            if case .bankLine(let account, let reference) = ref { (account, reference) } else { nil }
        }
        return try await ReconciliationRows.lines(
            try await connection.query(
                """
                SELECT \(unescaped: Self.lineColumns) FROM \(unescaped: schema.name).bank_lines
                WHERE org_id = current_setting('tally.org_id', true)
                  AND ((account_id, bank_reference) IN (SELECT * FROM unnest(\(pairs.map(\.0))::text[], \(pairs.map(\.1))::text[]))
                       OR tokens && \(payoutIDs.map { $0.lowercased() })::text[])
                """, logger: logger))
    }

    func bankLines(in window: AmountWindow) async throws -> [BankLine] {
        try await ReconciliationRows.lines(
            try await connection.query(
                """
                SELECT \(unescaped: Self.lineColumns) FROM \(unescaped: schema.name).bank_lines
                WHERE org_id = current_setting('tally.org_id', true) AND currency = \(window.currency.rawValue)
                  AND amount_minor BETWEEN \(window.minMinor) AND \(window.maxMinor)
                  AND booked_on BETWEEN \(window.from.description)::date AND \(window.through.description)::date
                """, logger: logger))
    }

    func bankAccounts() async throws -> [BankAccount] {
        let rows = try await connection.query(
            """
            SELECT account_id, currency, settlement_window_days FROM \(unescaped: schema.name).bank_accounts
            WHERE org_id = current_setting('tally.org_id', true)
            """, logger: logger)
        var found: [BankAccount] = []
        for try await (id, currency, window) in rows.decode((String, String, Int32).self) {
            guard let code = CurrencyCode(rawValue: currency) else { throw UnreadableRow(table: "bank_accounts", key: id) }
            found.append(BankAccount(accountID: id, currency: code, settlementWindowDays: Int(window)))
        }
        return found
    }

    // MARK: Checks and discrepancies

    func settings() async throws -> MatchingSettings {
        let rows = try await connection.query(
            """
            SELECT tolerances::text, payment_window_seconds, payout_window_days, settlement_window_days FROM \(unescaped: schema.name).matching_settings
            WHERE org_id = current_setting('tally.org_id', true)
            """, logger: logger)
        for try await (tolerances, paymentWindow, payoutWindow, settlementWindow) in rows.decode((String, Int32, Int32, Int32).self) {
            return MatchingSettings(
                tolerances: try ReconciliationRows.tolerances(tolerances), paymentWindow: TimeInterval(paymentWindow), payoutWindowDays: Int(payoutWindow),
                settlementWindowDays: Int(settlementWindow))
        }
        return .exact
    }

    func checks(keys: Set<String>) async throws -> [String: RecordedCheck] {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: ReconciliationRows.checkColumns) FROM \(unescaped: schema.name).checks
            WHERE org_id = current_setting('tally.org_id', true) AND check_key = ANY(\(Array(keys))::text[])
            """, logger: logger)
        var found: [String: RecordedCheck] = [:]
        for recorded in try await ReconciliationRows.checks(rows) { found[recorded.check.key] = recorded }
        return found
    }

    func save(_ recorded: RecordedCheck, now: Date) async throws {
        let check = recorded.check
        let until: Date? = if case .expected(let until) = check.status { until } else { nil }
        let reason: String? = if case .mismatched(let reason) = check.status { reason.rawValue } else { nil }
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).checks (org_id, check_key, leg, subject, counterparts, status, reason, expected_until, expected_minor,
                expected_currency, actual_minor, actual_currency, order_id, day, revision, updated_at)
            VALUES (current_setting('tally.org_id', true), \(check.key), \(check.leg.rawValue), \(check.subject.description),
                \(check.counterparts.map(\.description))::text[], \(check.status.name), \(reason), \(until), \(check.expected?.amountMinor),
                \(check.expected?.currency.rawValue), \(check.actual?.amountMinor), \(check.actual?.currency.rawValue), \(check.orderID),
                \(check.day.description)::date, \(recorded.revision), \(now))
            ON CONFLICT (org_id, check_key) DO UPDATE SET counterparts = EXCLUDED.counterparts, status = EXCLUDED.status, reason = EXCLUDED.reason,
                expected_until = EXCLUDED.expected_until, expected_minor = EXCLUDED.expected_minor, expected_currency = EXCLUDED.expected_currency,
                actual_minor = EXCLUDED.actual_minor, actual_currency = EXCLUDED.actual_currency, order_id = EXCLUDED.order_id,
                day = EXCLUDED.day, revision = EXCLUDED.revision, updated_at = EXCLUDED.updated_at
            """, logger: logger)
    }

    func discrepancies(checkKeys: Set<String>) async throws -> [String: [RecordedDiscrepancy]] {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: ReconciliationRows.discrepancyColumns) FROM \(unescaped: schema.name).discrepancies
            WHERE org_id = current_setting('tally.org_id', true) AND check_key = ANY(\(Array(checkKeys))::text[])
            """, logger: logger)
        var found: [String: [RecordedDiscrepancy]] = [:]
        for recorded in try await ReconciliationRows.discrepancies(rows) { found[recorded.discrepancy.checkKey, default: []].append(recorded) }
        return found
    }

    func discrepancy(_ id: String) async throws -> RecordedDiscrepancy? {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: ReconciliationRows.discrepancyColumns) FROM \(unescaped: schema.name).discrepancies
            WHERE org_id = current_setting('tally.org_id', true) AND discrepancy_id = \(id) FOR UPDATE
            """, logger: logger)
        return try await ReconciliationRows.discrepancies(rows).first
    }

    func save(_ recorded: RecordedDiscrepancy, now: Date) async throws {
        let d = recorded.discrepancy
        let check = d.check
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).discrepancies (org_id, discrepancy_id, check_key, reason, status, revision, first_opened_at, opened_at,
                resolved_at, resolved_by, owner, leg, subject, counterparts, expected_minor, expected_currency, actual_minor, actual_currency, order_id, day,
                updated_at)
            VALUES (current_setting('tally.org_id', true), \(recorded.id), \(d.checkKey), \(d.reason.rawValue), \(d.status.rawValue), \(d.revision),
                \(d.openedAt), \(d.openedAt), \(d.resolvedAt), \(d.resolvedBy?.rawValue), \(d.owner), \(check.leg.rawValue), \(check.subject.description),
                \(check.counterparts.map(\.description))::text[], \(check.expected?.amountMinor), \(check.expected?.currency.rawValue),
                \(check.actual?.amountMinor), \(check.actual?.currency.rawValue), \(check.orderID), \(check.day.description)::date, \(now))
            ON CONFLICT (org_id, discrepancy_id) DO UPDATE SET status = EXCLUDED.status, revision = EXCLUDED.revision, opened_at = EXCLUDED.opened_at,
                resolved_at = EXCLUDED.resolved_at, resolved_by = EXCLUDED.resolved_by, owner = EXCLUDED.owner, counterparts = EXCLUDED.counterparts,
                expected_minor = EXCLUDED.expected_minor, expected_currency = EXCLUDED.expected_currency, actual_minor = EXCLUDED.actual_minor,
                actual_currency = EXCLUDED.actual_currency, order_id = EXCLUDED.order_id, day = EXCLUDED.day, updated_at = EXCLUDED.updated_at
            """, logger: logger)
    }

    func enqueue(_ message: OutboxMessage) async throws {
        try await Outbox(schema: schema).enqueue([message], on: connection, logger: logger)
    }

    func refreshDeadline() async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).org_deadlines (org_id, next_due_at)
            SELECT current_setting('tally.org_id', true), min(expected_until) FROM \(unescaped: schema.name).checks
            WHERE org_id = current_setting('tally.org_id', true) AND status = 'expected'
            ON CONFLICT (org_id) DO UPDATE SET next_due_at = EXCLUDED.next_due_at
            """, logger: logger)
    }
}

/// A stored row this build cannot read (an unknown currency, kind or status).
struct UnreadableRow: Error, CustomStringConvertible {
    let table: String
    let key: String
    var description: String { "\(table) row \(key) holds a value this build does not know" }
}

/// Decoding of the schema's rows into domain values, shared by the handlers' store and the reads.
enum ReconciliationRows {
    static func money(_ minor: Int64, _ currency: String) throws -> Money {
        guard let code = CurrencyCode(rawValue: currency) else { throw UnreadableRow(table: "money", key: currency) }
        return Money(amountMinor: minor, currency: code)
    }

    static func money(_ minor: Int64?, _ currency: String?) throws -> Money? {
        guard let minor, let currency else { return nil }
        return try money(minor, currency)
    }

    static func tolerances(_ json: String) throws -> [CurrencyCode: Int64] {
        let raw = try JSONDecoder().decode([String: Int64].self, from: Data(json.utf8))
        var tolerances: [CurrencyCode: Int64] = [:]
        for (code, minor) in raw {
            guard let currency = CurrencyCode(rawValue: code) else { throw UnreadableRow(table: "matching_settings", key: code) }
            tolerances[currency] = minor
        }
        return tolerances
    }

    static func payments(_ rows: PostgresRowSequence) async throws -> [CapturedPayment] {
        var found: [CapturedPayment] = []
        for try await (id, provider, minor, currency, feeMinor, feeCurrency, orderRef, invoiceRef, subscriptionRef, at, eventID) in rows.decode(
            (String, String, Int64, String, Int64?, String?, String?, String?, String?, Date, String).self)
        {
            guard let provider = WebhookProvider(rawValue: provider) else { throw UnreadableRow(table: "payments", key: id) }
            found.append(
                CapturedPayment(
                    provider: provider, paymentID: id, amount: try money(minor, currency), fee: try money(feeMinor, feeCurrency), orderRef: orderRef,
                    invoiceRef: invoiceRef, subscriptionRef: subscriptionRef, capturedAt: at, sourceEventID: eventID))
        }
        return found
    }

    static func payouts(_ rows: PostgresRowSequence) async throws -> [ProviderPayout] {
        var found: [ProviderPayout] = []
        for try await (id, provider, minor, currency, feesMinor, feesCurrency, arrival, refs, eventID) in rows.decode(
            (String, String, Int64, String, Int64?, String?, String, [String], String).self)
        {
            guard let provider = WebhookProvider(rawValue: provider), let day = BankDay(arrival) else { throw UnreadableRow(table: "payouts", key: id) }
            found.append(
                ProviderPayout(
                    provider: provider, payoutID: id, amount: try money(minor, currency), fees: try money(feesMinor, feesCurrency), arrival: day,
                    paymentRefs: refs, sourceEventID: eventID))
        }
        return found
    }

    static func lines(_ rows: PostgresRowSequence) async throws -> [BankLine] {
        var found: [BankLine] = []
        for try await (account, reference, statement, booked, minor, currency, text) in rows.decode((String, String, String, String, Int64, String, String).self) {
            guard let day = BankDay(booked) else { throw UnreadableRow(table: "bank_lines", key: reference) }
            found.append(
                BankLine(accountID: account, bankReference: reference, statementID: statement, booked: day, amount: try money(minor, currency), text: text))
        }
        return found
    }

    static let checkColumns = """
        leg, subject, counterparts, status, reason, expected_until, expected_minor, expected_currency, actual_minor, actual_currency, order_id, revision,
        to_char(day, 'YYYY-MM-DD')
        """

    static func checks(_ rows: PostgresRowSequence) async throws -> [RecordedCheck] {
        var found: [RecordedCheck] = []
        for try await (leg, subject, counterparts, status, reason, until, expectedMinor, expectedCurrency, actualMinor, actualCurrency, orderID, revision, day)
            in rows.decode((String, String, [String], String, String?, Date?, Int64?, String?, Int64?, String?, String?, Int32, String).self)
        {
            guard let leg = Leg(rawValue: leg), let item = ItemRef(subject), let status = Self.status(status, reason: reason, until: until),
                let day = BankDay(day)
            else {
                throw UnreadableRow(table: "checks", key: subject)
            }
            let check = Check(
                leg: leg, subject: item, counterparts: counterparts.compactMap { ItemRef($0) }, status: status, expected: try money(expectedMinor, expectedCurrency),
                actual: try money(actualMinor, actualCurrency), orderID: orderID, day: day)
            found.append(RecordedCheck(check: check, revision: Int(revision)))
        }
        return found
    }

    static func status(_ name: String, reason: String?, until: Date?) -> MatchStatus? {
        switch (name, reason.flatMap(MismatchReason.init(rawValue:)), until) {
        case ("matched", _, _): .matched
        case ("expected", _, let until?): .expected(until: until)
        case ("mismatched", let reason?, _): .mismatched(reason)
        default: nil
        }
    }

    static let discrepancyColumns = """
        discrepancy_id, check_key, reason, status, revision, opened_at, resolved_at, resolved_by, owner, leg, subject, counterparts,
        expected_minor, expected_currency, actual_minor, actual_currency, order_id, to_char(day, 'YYYY-MM-DD')
        """

    static func discrepancies(_ rows: PostgresRowSequence) async throws -> [RecordedDiscrepancy] {
        var found: [RecordedDiscrepancy] = []
        for try await row in rows {
            let (id, key, reason, status, revision, openedAt, resolvedAt, resolvedBy, owner, leg, subject, counterparts, eMinor, eCurrency, aMinor, aCurrency, orderID, day) =
                try row.decode(
                    (String, String, String, String, Int32, Date, Date?, String?, String?, String, String, [String], Int64?, String?, Int64?, String?, String?, String).self)
            guard let reason = MismatchReason(rawValue: reason), let status = Discrepancy.Status(rawValue: status), let leg = Leg(rawValue: leg),
                let subject = ItemRef(subject), let day = BankDay(day)
            else { throw UnreadableRow(table: "discrepancies", key: id) }
            let snapshot = Check(
                leg: leg, subject: subject, counterparts: counterparts.compactMap { ItemRef($0) }, status: .mismatched(reason),
                expected: try money(eMinor, eCurrency), actual: try money(aMinor, aCurrency), orderID: orderID, day: day)
            found.append(
                RecordedDiscrepancy(
                    id: id,
                    discrepancy: Discrepancy(
                        checkKey: key, reason: reason, status: status, revision: Int(revision), openedAt: openedAt, resolvedAt: resolvedAt,
                        resolvedBy: resolvedBy.flatMap(DiscrepancyResolution.init(rawValue:)), check: snapshot, owner: owner)))
        }
        return found
    }
}
