import Contracts

/// Where one stored webhook is in its life, as the `webhook_inbox` view derives it (a test
/// compares the view and the `webhook_outcomes` CHECK constraint with these values).
///
/// `pending` → `published` (the relay's recorded position has passed the row) → one final
/// status from the normalizer's outcome, a row of its own in `webhook_outcomes`. A replay
/// publishes the row again without moving it back. The stored webhook is never rewritten.
enum InboxStatus: String, Codable, Sendable, CaseIterable {
    /// Stored; its raw event is not on the topic yet.
    case pending
    /// Its raw event is on the topic; the normalizer has not answered.
    case published
    /// Normalized into canonical events.
    case processed
    /// Understood and deliberately not normalized (no mapping for its type).
    case ignored
    /// Every state change in it was older than one already applied to its object.
    case superseded
    /// The normalizer could not read it; its raw event is on the normalizer's dead-letter topic.
    case failed

    /// The statuses that still wait for the normalizer's outcome.
    static let awaitingOutcome: [InboxStatus] = [.pending, .published]

    /// Whether the normalizer has decided this row.
    var isFinal: Bool { !Self.awaitingOutcome.contains(self) }

    /// The final status an outcome sets.
    init(_ outcome: WebhookOutcome.Status) {
        switch outcome {
        case .processed: self = .processed
        case .ignored: self = .ignored
        case .superseded: self = .superseded
        case .failed: self = .failed
        }
    }
}
