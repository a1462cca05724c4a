/// An org (tenant): the one every event and tenant row carries, and whose rows a transaction may
/// touch. Never empty.
public struct TenantID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init?(rawValue: String) {
        guard !rawValue.isEmpty else { return nil }
        self.rawValue = rawValue
    }
    public var description: String { rawValue }
}
