import Contracts
import Foundation
import Logging
import Storage
import Synchronization

/// Group commit for the webhook intake: requests that arrive while a commit is in progress are
/// stored together in the next transaction, so many webhooks share one commit and its WAL flush.
///
/// Guarantees, per webhook, are those of `WebhookInboxStore.accept`: the caller gets its outcome
/// only after the transaction holding its row committed. There is no timer: a request arriving
/// at an idle gateway is written at once (a batch of one), so batching adds no latency; batches
/// grow only under concurrency. At most `writers` transactions run at a time.
final class IntakeBatcher: Sendable {
    private typealias Waiter = CheckedContinuation<AcceptOutcome, any Error>

    private struct State {
        var pending: [(webhook: IncomingWebhook, waiter: Waiter)] = []
        var activeWriters = 0
    }

    private let store: WebhookInboxStore
    private let maxBatch: Int
    private let writers: Int
    private let logger: Logger
    private let state = Mutex(State())
    /// The longest one intake transaction may take before its senders get 503.
    static let transactionDeadline: Duration = .seconds(20)

    init(store: WebhookInboxStore, maxBatch: Int = 128, writers: Int = 2, logger: Logger) {
        self.store = store
        self.maxBatch = maxBatch
        self.writers = writers
        self.logger = logger
    }

    /// Stores `webhook` (in a shared transaction when others are waiting) and returns its outcome.
    func accept(_ webhook: IncomingWebhook) async throws -> AcceptOutcome {
        try await withCheckedThrowingContinuation { (waiter: Waiter) in
            let startWriter = state.withLock { state -> Bool in
                state.pending.append((webhook, waiter))
                guard state.activeWriters < writers else { return false }
                state.activeWriters += 1
                return true
            }
            if startWriter { Task { await self.writeUntilEmpty() } }
        }
    }

    /// One writer: takes what is pending, stores it, answers, and repeats until nothing is left.
    private func writeUntilEmpty() async {
        while true {
            let batch = state.withLock { state -> [(webhook: IncomingWebhook, waiter: Waiter)] in
                guard !state.pending.isEmpty else {
                    state.activeWriters -= 1
                    return []
                }
                let count = min(maxBatch, state.pending.count)
                defer { state.pending.removeFirst(count) }
                return Array(state.pending.prefix(count))
            }
            if batch.isEmpty { return }
            await write(batch)
        }
    }

    private func write(_ batch: [(webhook: IncomingWebhook, waiter: Waiter)]) async {
        // Row-level security scopes a transaction to one org: one transaction per org.
        var byOrg: [String: [(webhook: IncomingWebhook, waiter: Waiter)]] = [:]
        for item in batch { byOrg[item.webhook.source.orgID, default: []].append(item) }
        for (org, items) in byOrg {
            guard let tenant = TenantID(rawValue: org) else {
                for item in items { item.waiter.resume(throwing: StorageError.missingTenant) }
                continue
            }
            do {
                // A hung connection must not hold the writer (and every later webhook) forever:
                // past the deadline the senders get 503 and retry.
                let webhooks = items.map(\.webhook)
                let outcomes = try await withDeadline(Self.transactionDeadline) { try await self.store.accept(batch: webhooks, tenant: tenant) }
                for (item, outcome) in zip(items, outcomes) { item.waiter.resume(returning: outcome) }
            } catch let error where TransientFailure.isTransient(error) {
                // Each sender gets the failure (503) and retries. Should the commit have reached
                // the database before the connection broke, the retry is answered as a duplicate.
                for item in items { item.waiter.resume(throwing: error) }
            } catch {
                // One webhook must not fail the others: store each on its own.
                logger.warning("intake batch failed; storing its webhooks one by one", metadata: ["error": "\(String(reflecting: error))", "size": "\(items.count)"])
                for item in items {
                    await answer(item.waiter) { try await self.store.accept(item.webhook) }
                }
            }
        }
    }

    private func answer(_ waiter: Waiter, _ body: () async throws -> AcceptOutcome) async {
        do { waiter.resume(returning: try await body()) } catch { waiter.resume(throwing: error) }
    }
}
