/// A batch handler returned a different number of outcomes than it was given events.
public struct InboxOutcomeCountMismatch: Error, CustomStringConvertible {
    public let events: Int
    public let outcomes: Int
    public var description: String { "the batch handler returned \(outcomes) outcomes for \(events) events" }
}
