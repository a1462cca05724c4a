import Contracts
import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import ServiceRuntime
import Storage
import Synchronization

/// How the worker claims and paces deliveries.
struct DeliverySettings: Sendable, Equatable {
    var policy: RetryPolicy = .standard
    /// How long a claim holds a delivery. Longer than any send can take (every channel has its
    /// own, shorter, deadline), so a lease runs out only when its worker stopped.
    var lease: Duration = .seconds(120)
    /// The most one attempt may take, whatever the channel: past it the attempt ends `transient`
    /// (`timeout`). Half the lease at most.
    var sendDeadline: Duration = .seconds(60)
    /// How often the worker looks for due deliveries when nothing woke it.
    var pollInterval: Duration = .seconds(1)
    /// Sends in flight at once. Claims are made only for free slots, so each is sent as soon as
    /// it is claimed.
    var concurrency: Int = 16
    var recipientLimit = RecipientLimit(perHour: 20)
    /// How long a delivery for a customer waits for the customer's contact details.
    var contactWait: Duration = .seconds(600)
}

/// Sends due deliveries, claimed in the database so that two replicas never send the same one.
///
/// For each batch, per org:
/// 1. **Claim** (one tenant transaction): lock the due rows `FOR UPDATE SKIP LOCKED`, resolve each
///    recipient, apply the per-recipient limit, render the template, and for each one that will
///    be sent, mark it `sending` with a lease and write its attempt as `in_flight`. Deliveries
///    that cannot be sent end `undeliverable` here; those that must wait are deferred.
/// 2. **Send**, outside any transaction.
/// 3. **Record** (one tenant transaction per delivery): the attempt's outcome, the delivery's new
///    state and its `notification.delivery` event, together — provided the claim is still ours.
///
/// The crash window: a worker that stops between the provider's acceptance (2) and the commit of
/// (3) leaves the attempt `in_flight`. When the lease runs out the delivery is claimed again, the
/// old attempt is marked `abandoned`, and the message is sent once more: a crash there resends at
/// most once, with the same Message-ID / `webhook-id` (the delivery id), so a receiver that
/// deduplicates on it sees one message. Anywhere else a crash sends nothing twice.
struct DeliveryWorker: Service {
    static let jobName = "notifications.delivery_worker"

    let client: PostgresClient
    let schema: ServiceSchema
    let courier: any Courier
    let catalog: TemplateCatalog
    /// Opens the endpoints' signing secrets.
    let secrets: SecretBox
    let settings: DeliverySettings
    let logger: Logger
    let now: @Sendable () -> Date
    /// Identifies this process's claims (`claimed_by`).
    let workerID: String

    /// Keeps up to `settings.concurrency` sends in flight: whenever at least half the slots are
    /// free (or none is busy), it claims as many due deliveries as there are free slots and starts
    /// them at once, so every claim is sent right after it is made and none waits behind others
    /// while its lease runs. It looks again when a send ends or after `pollInterval`, whichever
    /// comes first, so a slow send never keeps newly due deliveries waiting. The heartbeat is
    /// recorded at most every `heartbeatInterval`, and on every failure.
    func run() async throws {
        let heartbeats = JobHeartbeats(schema: schema)
        var lastBeat = ContinuousClock.now - heartbeatInterval
        let inFlight = SendsInFlight()
        let sendEnded = Doorbell()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let busy = inFlight.count.withLock { $0 }
                let free = settings.concurrency - busy
                var failure: String?
                if busy == 0 || free * 2 >= settings.concurrency {
                    do {
                        let (_, claims) = try await claimDue(limit: free)
                        inFlight.count.withLock { $0 += claims.count }
                        for claim in claims {
                            group.addTask {
                                await self.send(claim)
                                inFlight.count.withLock { $0 -= 1 }
                                sendEnded.ring()
                            }
                        }
                    } catch {
                        failure = String(describing: type(of: error))
                        logger.warning("delivery worker claim failed", metadata: ["error": "\(String(reflecting: error).prefix(300))"])
                    }
                }
                if failure != nil || ContinuousClock.now - lastBeat >= heartbeatInterval {
                    try? await heartbeats.record(job: Self.jobName, error: failure, at: now(), client: client, logger: logger)
                    lastBeat = .now
                }
                await sendEnded.wait(upTo: settings.pollInterval)
            }
        }
    }

    /// The sends a running worker has in flight.
    final class SendsInFlight: Sendable {
        let count = Mutex(0)
    }

    /// How often a busy worker records its heartbeat.
    var heartbeatInterval: Duration { .seconds(5) }

    /// Claims up to `limit` due deliveries, oldest first, across orgs: how many were due, and
    /// the claims that will be sent (the others were deferred or ended undeliverable).
    func claimDue(limit: Int) async throws -> (due: Int, claims: [Claim]) {
        guard limit > 0 else { return (0, []) }
        let due = try await dueDeliveries(limit: limit)
        var claimed: [Claim] = []
        for (org, ids) in Dictionary(grouping: due, by: \.org).sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            claimed += try await claim(org: org, ids: ids.map(\.id))
        }
        return (due.count, claimed)
    }

    /// One batch, for tests: claim up to `concurrency` deliveries, send them all, record. Returns
    /// how many due deliveries it found.
    @discardableResult
    func runOnce() async throws -> Int {
        let (due, claimed) = try await claimDue(limit: settings.concurrency)
        await withTaskGroup(of: Void.self) { group in
            for claim in claimed { group.addTask { await self.send(claim) } }
        }
        return due
    }

    /// Due deliveries of every org, oldest first (read with the operator scope; each is claimed
    /// under its own org's isolation).
    func dueDeliveries(limit: Int) async throws -> [(org: TenantID, id: UUID)] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT set_config('tally.scope', 'operator', true)", logger: logger)
            let rows = try await connection.query(
                """
                SELECT org_id, id FROM \(unescaped: schema.name).deliveries
                 WHERE (status IN ('scheduled', 'retrying') AND next_attempt_at <= \(now()))
                    OR (status = 'sending' AND lease_until < \(now()))
                 ORDER BY next_attempt_at LIMIT \(limit)
                """, logger: logger)
            var due: [(org: TenantID, id: UUID)] = []
            for try await (org, id) in rows.decode((String, UUID).self) {
                if let tenant = TenantID(rawValue: org) { due.append((tenant, id)) }
            }
            return due
        }
    }

    /// A delivery claimed for one attempt.
    struct Claim: Sendable {
        var record: DeliveryRecord
        var message: OutgoingMessage
        var recipientKey: String
    }

    /// Step 1 for one org's due deliveries.
    func claim(org: TenantID, ids: [UUID]) async throws -> [Claim] {
        let time = now()
        return try await client.withTenantTransaction(org, logger: logger) { connection in
            let store = NotificationsStore(schema: schema, connection: connection, logger: logger, secrets: secrets)
            var claims: [Claim] = []
            var announcements: [OutboxMessage] = []
            for var record in try await store.lockDue(org: org, ids: ids, now: time) {
                if record.state.status == .sending {
                    try await store.abandonInFlight(org: org, delivery: record.state.id, now: time)
                    logger.warning("delivery claim expired; sending again", metadata: ["delivery_id": "\(record.state.id)", "attempt": "\(record.state.attempts)"])
                    Counter(label: "notifications_claims_expired_total").increment()
                }
                switch try await prepare(record, store: store, now: time) {
                case .wait(let until, let reason):
                    record.state = DeliveryLifecycle.deferred(record.state, until: until, reason: reason)
                    try await store.save(org: org, record.state, leaseUntil: nil, claimedBy: nil, recipientKey: nil, now: time)
                    Counter(label: "notifications_deferred_total", dimensions: [("reason", reason)]).increment()
                case .undeliverable(let reason, let detail):
                    record.state = DeliveryLifecycle.undeliverable(record.state, reason: reason, detail: detail, now: time)
                    try await store.save(org: org, record.state, leaseUntil: nil, claimedBy: nil, recipientKey: nil, now: time)
                    announcements.append(try DeliveryAnnouncement.message(for: record, status: .undeliverable, now: time))
                    Counter(label: "notifications_deliveries_total", dimensions: [("status", "undeliverable"), ("channel", "none")]).increment()
                    logger.notice("delivery is undeliverable", metadata: ["delivery_id": "\(record.state.id)", "reason": "\(reason)"])
                case .send(let message, let recipientKey):
                    record.state = DeliveryLifecycle.startAttempt(record.state, channel: message.destination.channel)
                    let lease = time.addingTimeInterval(settings.lease.timeInterval)
                    try await store.save(org: org, record.state, leaseUntil: lease, claimedBy: workerID, recipientKey: recipientKey, now: time)
                    try await store.startAttempt(
                        org: org, delivery: record.state.id, number: record.state.attempts, channel: message.destination.channel, recipientKey: recipientKey,
                        now: time)
                    claims.append(Claim(record: record, message: message, recipientKey: recipientKey))
                }
            }
            try await store.enqueue(announcements)
            return claims
        }
    }

    enum Preparation {
        case send(OutgoingMessage, recipientKey: String)
        case wait(until: Date, reason: String)
        case undeliverable(reason: String, detail: String?)
    }

    /// Resolves, limits and renders one claimed delivery (reads only).
    func prepare(_ record: DeliveryRecord, store: NotificationsStore, now time: Date) async throws -> Preparation {
        let org = record.org
        let contact = try await record.recipient.customer.asyncMap { try await store.contact(org: org, $0) } ?? nil
        let endpoint = try await record.recipient.address?.endpointID.asyncMap { try await store.endpoint(org: org, id: $0) } ?? nil
        switch RecipientResolution.resolve(record.recipient, channels: record.channels, contact: contact, endpoint: endpoint) {
        case .awaitingContact:
            let deadline = record.createdAt.addingTimeInterval(settings.contactWait.timeInterval)
            guard time < deadline else {
                return .undeliverable(reason: "no_contact", detail: "no customer.upserted arrived for the customer within \(settings.contactWait)")
            }
            return .wait(until: min(deadline, time.addingTimeInterval(30)), reason: "awaiting_contact")
        case .unreachable(let reason, let detail):
            return .undeliverable(reason: reason, detail: detail)
        case .resolved(let destination, let name, let contactLocale):
            let recipientKey = DeliveryIdentity.recipientKey(org: org, destination: destination)
            if case .wait(let until) = settings.recipientLimit.decide(recent: try await store.recentSends(org: org, recipientKey: recipientKey, now: time), now: time) {
                return .wait(until: until, reason: "recipient_limit")
            }
            var variables = record.variables
            if variables["customer_name"] == nil, let name { variables["customer_name"] = name }
            do throws(TemplateError) {
                let rendered = try catalog.render(key: record.templateKey, locale: record.locale ?? contactLocale, variables: variables)
                let message = OutgoingMessage(
                    deliveryID: record.state.id, org: org, dedupeKey: record.dedupeKey, destination: destination, rendered: rendered)
                return .send(message, recipientKey: recipientKey)
            } catch {
                return .undeliverable(reason: error.reason, detail: error.description)
            }
        }
    }

    /// Steps 2 and 3 for one claim.
    func send(_ claim: Claim) async {
        let started = ContinuousClock.now
        let result = await Self.withDeadline(settings.sendDeadline, provider: claim.message.destination.channel.rawValue) { [courier] in
            await courier.deliver(claim.message)
        }
        let elapsed = ContinuousClock.now - started
        Timer(label: "notifications_send_duration_seconds", dimensions: [("channel", claim.message.destination.channel.rawValue)])
            .recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        do {
            try await record(result, for: claim)
        } catch {
            // The lease runs out and the delivery is claimed again: it is resent at most once.
            logger.error(
                "could not record a delivery attempt", metadata: ["delivery_id": "\(claim.record.state.id)", "error": "\(String(reflecting: error).prefix(300))"])
        }
    }

    /// `operation`'s result, or a `transient` timeout when it takes longer than `limit` (the
    /// operation is cancelled).
    static func withDeadline(_ limit: Duration, provider: String, _ operation: @escaping @Sendable () async -> AttemptResult) async -> AttemptResult {
        await withTaskGroup(of: AttemptResult?.self) { group in
            group.addTask { await operation() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
                ?? AttemptResult(outcome: .transient, provider: provider, reason: "timeout", detail: "the attempt took longer than \(limit)")
        }
    }

    func record(_ result: AttemptResult, for claim: Claim) async throws {
        let org = claim.record.org
        let time = now()
        try await client.withTenantTransaction(org, logger: logger) { connection in
            let store = NotificationsStore(schema: schema, connection: connection, logger: logger, secrets: secrets)
            var record = claim.record
            let number = record.state.attempts
            guard try await store.holdsClaim(org: org, id: record.state.id, attempt: number, claimedBy: workerID) else {
                // Another worker claimed it after the lease ran out and marked this attempt
                // abandoned: keep that, and note what this attempt did after all.
                try await store.noteLateOutcome(org: org, delivery: record.state.id, number: number, result: result)
                logger.warning("delivery was claimed again before its attempt was recorded", metadata: ["delivery_id": "\(record.state.id)"])
                return
            }
            try await store.finishAttempt(org: org, delivery: record.state.id, number: number, result: result, now: time)
            let settlement = DeliveryLifecycle.settle(record.state, with: result, policy: settings.policy, now: time)
            record.state = settlement.state
            try await store.save(org: org, record.state, leaseUntil: nil, claimedBy: nil, recipientKey: nil, now: time)
            if result.outcome == .deliveredOffline {
                try await store.storeOfflineMessage(
                    org: org, delivery: record.state.id, channel: claim.message.destination.channel, messageJSON: try OfflineCopy.json(of: claim.message),
                    now: time)
            }
            if settlement.disablesEndpoint, case .webhook(let endpoint) = claim.message.destination {
                try await store.disableEndpoint(org: org, id: endpoint.id, reason: "410 Gone from the endpoint", now: time)
                logger.notice("webhook endpoint disabled: it answered 410", metadata: ["endpoint_id": "\(endpoint.id)"])
            }
            try await store.enqueue([try DeliveryAnnouncement.message(for: record, status: settlement.announced, now: time)])
            Counter(
                label: "notifications_deliveries_total",
                dimensions: [("status", settlement.announced.rawValue), ("channel", claim.message.destination.channel.rawValue)]
            ).increment()
            Counter(label: "notifications_attempts_total", dimensions: [("outcome", result.outcome.rawValue), ("provider", result.provider)]).increment()
            logger.info(
                "delivery attempt recorded",
                metadata: [
                    "delivery_id": "\(record.state.id)", "attempt": "\(number)", "outcome": "\(result.outcome.rawValue)", "provider": "\(result.provider)",
                    "status": "\(record.state.status.rawValue)", "mode": "\(result.outcome == .deliveredOffline ? "mock" : "live")",
                ])
        }
    }
}

/// What an offline channel keeps instead of sending: the message as it would have gone out.
enum OfflineCopy {
    struct Body: Encodable {
        var channel: String
        var to: String
        var templateKey: String
        var locale: String
        var text: String
        var whatsAppTemplate: String?
        var whatsAppParameters: [String]?

        enum CodingKeys: String, CodingKey {
            case channel, to, templateKey = "template_key", locale, text, whatsAppTemplate = "whatsapp_template", whatsAppParameters = "whatsapp_parameters"
        }
    }

    static func json(of message: OutgoingMessage) throws -> String {
        let to: String
        switch message.destination {
        case .email(let address, _): to = address
        case .whatsapp(let phone): to = phone
        case .webhook(let endpoint): to = endpoint.id
        }
        let rendered = message.rendered
        let body = Body(
            channel: message.destination.channel.rawValue, to: to, templateKey: rendered.templateKey, locale: rendered.locale, text: rendered.text,
            whatsAppTemplate: rendered.whatsApp?.name, whatsAppParameters: rendered.whatsApp?.bodyParameters)
        return String(decoding: try CanonicalJSON.encode(body), as: UTF8.self)
    }
}

extension Optional {
    /// `map` with an async transform.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
