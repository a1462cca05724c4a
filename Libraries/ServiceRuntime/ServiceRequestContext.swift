import Hummingbird

/// The request context of every Tally service: Hummingbird's core context plus the admin
/// principal once the bearer token was verified.
public struct ServiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AdminAuthMiddleware` on admin routes.
    public var principal: AdminPrincipal?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.principal = nil
    }

    /// The verified principal; throws 401 when the route was not behind the auth middleware.
    public func requirePrincipal() throws -> AdminPrincipal {
        guard let principal else { throw Problem.unauthorized("this route needs an admin bearer token") }
        return principal
    }
}
