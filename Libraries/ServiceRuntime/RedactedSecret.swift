/// A secret (an API key) that never prints: its description, debug description and mirror are
/// all redacted, so logging or dumping a value that holds one does not leak it.
public struct RedactedSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret itself; read it only to send it where it belongs.
    public let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { "[redacted]" }
    public var debugDescription: String { "[redacted]" }
    public var customMirror: Mirror { Mirror(self, unlabeledChildren: [String]()) }

    /// `text` with every occurrence of the secret replaced by `[redacted]`.
    public func scrub(_ text: String) -> String {
        value.isEmpty ? text : text.replacingOccurrences(of: value, with: "[redacted]")
    }
}
