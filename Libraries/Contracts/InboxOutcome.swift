/// What a handler did with one event; recorded in the inbox next to the event id.
public enum InboxOutcome: String, Sendable, CaseIterable {
    /// The event changed state.
    case applied
    /// The event was understood and deliberately not acted on.
    case ignored

    /// Every value the inbox's `outcome` column may hold (its CHECK constraint lists the same):
    /// a handler's outcome, or `dead-lettered` for an event the consumer set aside.
    public static let recordedValues = allCases.map(\.rawValue) + [deadLettered]

    /// The recorded outcome of an event that went to the dead-letter topic.
    public static let deadLettered = "dead-lettered"
}
