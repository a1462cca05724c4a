import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// The finance schema's SQL for the consumer's handlers, on a connection whose transaction set
/// the org (`setTenant`). Every row written carries that org; RLS keeps other orgs out.
struct PostgresFinanceStore: FinanceStore {
    let schema: ServiceSchema
    let connection: PostgresConnection
    let logger: Logger

    // MARK: Ledger

    func transaction(key: String) async throws -> ProposedTransaction? {
        try await LedgerRows.transactions(where: "t.key = $1", [.text(key)], schema: schema, connection: connection, logger: logger).first?.proposal
    }

    func post(_ proposal: ProposedTransaction, postedAt: Date) async throws -> PostedTransaction {
        let s = schema.name
        var head: (Int64, String) = (0, LedgerSeal.genesis)
        for try await row in try await connection.query(
            """
            INSERT INTO \(unescaped: s).ledger_heads (org_id, sequence, chain_sha256)
            VALUES (current_setting('tally.org_id', true), 0, \(LedgerSeal.genesis))
            ON CONFLICT (org_id) DO UPDATE SET sequence = ledger_heads.sequence
            RETURNING sequence, chain_sha256
            """, logger: logger
        ).decode((Int64, String).self) { head = row }
        var reverses: Int64?
        if let reversesKey = proposal.reversesKey {
            for try await id in try await connection.query("SELECT id FROM \(unescaped: s).ledger_transactions WHERE key = \(reversesKey)", logger: logger).decode(Int64.self) {
                reverses = id
            }
        }
        let sequence = head.0 + 1
        // The id is the sequence's own row; the content hash does not cover it.
        var sealed = LedgerSeal.seal(proposal, id: 0, sequence: sequence, reverses: reverses, postedAt: postedAt, previousChainHash: head.1, hash: ContentHash.sha256Hex)
        let codes = proposal.entries.map(\.account)
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).accounts (org_id, code, kind)
            SELECT current_setting('tally.org_id', true), code, kind FROM unnest(\(codes)::text[], \(codes.map { LedgerAccount.kind(of: $0).rawValue })::text[]) AS a(code, kind)
            ON CONFLICT (org_id, code) DO NOTHING
            """, logger: logger)
        for try await id in try await connection.query(
            """
            INSERT INTO \(unescaped: s).ledger_transactions
                (org_id, sequence, key, kind, payment_provider, payment_id, reverses, cause_event_id, cause_event_type, occurred_at, posted_at, content_sha256, chain_sha256)
            VALUES (current_setting('tally.org_id', true), \(sequence), \(proposal.key), \(proposal.kind.rawValue), \(proposal.payment?.provider.rawValue),
                    \(proposal.payment?.paymentID), \(reverses), \(proposal.causeEventID), \(proposal.causeEventType), \(proposal.occurredAt), \(sealed.postedAt),
                    \(sealed.contentHash), \(sealed.chainHash))
            RETURNING id
            """, logger: logger
        ).decode(Int64.self) { sealed.id = id }
        let lines = proposal.entries.indices.map { Int32($0) }
        try await connection.query(
            """
            INSERT INTO \(unescaped: s).ledger_entries (transaction_id, line, org_id, account, currency, amount_minor, sequence, posted_at)
            SELECT \(sealed.id), line, current_setting('tally.org_id', true), account, currency, amount, \(sequence), \(sealed.postedAt)
            FROM unnest(\(lines)::int[], \(codes)::text[], \(proposal.entries.map(\.currency.rawValue))::text[], \(proposal.entries.map(\.amountMinor))::bigint[])
                AS e(line, account, currency, amount)
            """, logger: logger)
        try await connection.query(
            """
            UPDATE \(unescaped: s).ledger_heads SET sequence = \(sequence), chain_sha256 = \(sealed.chainHash)
            WHERE org_id = current_setting('tally.org_id', true)
            """, logger: logger)
        return sealed
    }

    func recordConflict(_ conflict: LedgerConflict) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).ledger_conflicts (org_id, key, code, field, recorded, offered, cause_event_id)
            VALUES (current_setting('tally.org_id', true), \(conflict.key), \(conflict.code.rawValue), \(conflict.field), \(conflict.recorded),
                    \(conflict.offered), \(conflict.causeEventID))
            ON CONFLICT (org_id, key, code, field, offered) DO NOTHING
            """, logger: logger)
    }

    func enqueue(_ message: OutboxMessage) async throws {
        try await Outbox(schema: schema).enqueue([message], on: connection, logger: logger)
    }

    // MARK: Payments

    func payment(_ key: PaymentKey) async throws -> PaymentRecord? {
        try await PaymentRows.select(
            where: "provider = $1 AND payment_id = $2 FOR UPDATE", [.text(key.provider.rawValue), .text(key.paymentID)], schema: schema, connection: connection, logger: logger
        ).first
    }

    func save(_ record: PaymentRecord, at time: Date) async throws {
        let disputes = String(decoding: try JSONEncoder.sorted.encode(record.disputes), as: UTF8.self)
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).payments
                (org_id, provider, payment_id, status, currency, intended_minor, captured_at, captured_minor, fee_minor, refunded_minor, attempt_failed,
                 disputes, customer_ref, order_ref, updated_at)
            VALUES (current_setting('tally.org_id', true), \(record.key.provider.rawValue), \(record.key.paymentID), \(record.status.rawValue),
                    \(record.currency?.rawValue), \(record.intendedMinor), \(record.capturedAt), \(record.capturedMinor), \(record.feeMinor), \(record.refundedMinor),
                    \(record.attemptFailed), \(disputes)::jsonb, \(record.customerRef), \(record.orderRef), \(time))
            ON CONFLICT (org_id, provider, payment_id) DO UPDATE SET
                status = EXCLUDED.status, currency = EXCLUDED.currency, intended_minor = EXCLUDED.intended_minor, captured_at = EXCLUDED.captured_at,
                captured_minor = EXCLUDED.captured_minor, fee_minor = EXCLUDED.fee_minor, refunded_minor = EXCLUDED.refunded_minor,
                attempt_failed = EXCLUDED.attempt_failed, disputes = EXCLUDED.disputes, customer_ref = EXCLUDED.customer_ref,
                order_ref = EXCLUDED.order_ref, updated_at = EXCLUDED.updated_at
            """, logger: logger)
    }

    func recordTimeline(_ payment: PaymentKey, eventID: String, eventType: String, occurredAt: Date, transactionID: Int64?, note: String?) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).payment_events (org_id, event_id, provider, payment_id, event_type, occurred_at, transaction_id, note)
            VALUES (current_setting('tally.org_id', true), \(eventID), \(payment.provider.rawValue), \(payment.paymentID), \(eventType), \(occurredAt),
                    \(transactionID), \(note))
            ON CONFLICT (org_id, event_id) DO UPDATE SET transaction_id = EXCLUDED.transaction_id, note = EXCLUDED.note
            """, logger: logger)
    }

    func hold(_ event: HeldEvent) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).held_events (org_id, event_id, provider, payment_id, event_type, reason, occurred_at, envelope)
            VALUES (current_setting('tally.org_id', true), \(event.eventID), \(event.payment.provider.rawValue), \(event.payment.paymentID), \(event.eventType),
                    \(event.reason.rawValue), \(event.occurredAt), \(PostgresBytes(event.envelope)))
            ON CONFLICT (org_id, event_id) DO UPDATE SET reason = EXCLUDED.reason
            """, logger: logger)
    }

    func heldEvents(of payment: PaymentKey) async throws -> [HeldEvent] {
        var events: [HeldEvent] = []
        for try await (eventID, eventType, reason, occurredAt, envelope) in try await connection.query(
            """
            SELECT event_id, event_type, reason, occurred_at, envelope FROM \(unescaped: schema.name).held_events
            WHERE org_id = current_setting('tally.org_id', true) AND provider = \(payment.provider.rawValue) AND payment_id = \(payment.paymentID)
              AND released_at IS NULL
            ORDER BY occurred_at, event_id
            """, logger: logger
        ).decode((String, String, String, Date, ByteBuffer).self) {
            guard let reason = HoldReason(rawValue: reason) else { throw UnreadableFinanceRow(table: "held_events", id: eventID) }
            events.append(
                HeldEvent(eventID: eventID, eventType: eventType, payment: payment, reason: reason, occurredAt: occurredAt, envelope: Array(buffer: envelope)))
        }
        return events
    }

    func release(eventID: String, at time: Date) async throws {
        try await connection.query(
            """
            UPDATE \(unescaped: schema.name).held_events SET released_at = \(time)
            WHERE org_id = current_setting('tally.org_id', true) AND event_id = \(eventID) AND released_at IS NULL
            """, logger: logger)
    }

    // MARK: Refunds

    func refundRequests(of payment: PaymentKey) async throws -> [RefundRequest] {
        try await RefundRows.select(
            where: "provider = $1 AND payment_id = $2 ORDER BY created_at, id", [.text(payment.provider.rawValue), .text(payment.paymentID)], schema: schema,
            connection: connection, logger: logger)
    }

    func update(_ request: RefundRequest) async throws {
        try await RefundRows.upsert(request, schema: schema, connection: connection, logger: logger)
    }

    func recordProviderRefund(_ payment: PaymentKey, refundID: String, amount: Money, requestID: String?, transactionID: Int64) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).provider_refunds (org_id, provider, refund_id, payment_id, amount_minor, currency, refund_request_id, transaction_id)
            VALUES (current_setting('tally.org_id', true), \(payment.provider.rawValue), \(refundID), \(payment.paymentID), \(amount.amountMinor),
                    \(amount.currency.rawValue), \(requestID), \(transactionID))
            ON CONFLICT (org_id, provider, refund_id) DO NOTHING
            """, logger: logger)
    }

    // MARK: Payouts

    func insert(_ payout: PayoutRecord) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.name).payouts
                (org_id, provider, payout_id, status, amount_minor, currency, fees_minor, arrival_date, occurred_at, payment_refs, transaction_id)
            VALUES (current_setting('tally.org_id', true), \(payout.provider.rawValue), \(payout.payoutID), \(payout.status.rawValue), \(payout.amount.amountMinor),
                    \(payout.amount.currency.rawValue), \(payout.fees?.amountMinor), \(payout.arrivalDate)::date, \(payout.occurredAt), \(payout.paymentRefs)::text[],
                    \(payout.transactionID))
            ON CONFLICT (org_id, provider, payout_id) DO NOTHING
            """, logger: logger)
    }
}

/// A stored row this build cannot read back (an unknown status, currency or provider).
struct UnreadableFinanceRow: Error, CustomStringConvertible {
    let table: String
    let id: String
    var description: String { "\(table) row \(id) holds a value this build does not know" }
}

extension JSONEncoder {
    /// Sorted keys: the same value always gives the same bytes.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
