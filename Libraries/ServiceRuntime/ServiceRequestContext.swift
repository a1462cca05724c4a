import Hummingbird

/// The request context of every Tally service: Hummingbird's core context plus the admin
/// principal once the bearer token was verified.
public struct ServiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AdminAuthMiddleware` on admin routes.
    public var principal: AdminPrincipal?
    /// The peer's IP address, when known (not in router-only tests).
    public let remoteAddress: String?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.principal = nil
        self.remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// The verified principal; throws 401 when the route was not behind the auth middleware.
    public func requirePrincipal() throws -> AdminPrincipal {
        guard let principal else { throw Problem.unauthorized("this route needs an admin bearer token") }
        return principal
    }
}

extension ServiceRequestContext {
    /// The request's correlation id (`X-Correlation-ID`, set by the router's correlation
    /// middleware): what answers, log lines and audit rows name the request by.
    public var correlationID: String? {
        guard case .string(let value) = logger[metadataKey: "correlation_id"] else { return nil }
        return value
    }
}
