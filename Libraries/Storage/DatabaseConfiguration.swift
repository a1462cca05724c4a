import Foundation
import PostgresNIO

/// Where and as whom a service connects, parsed from a `postgres://user:password@host:port/db` URL.
public struct DatabaseConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String

    public init(host: String, port: Int, username: String, password: String?, database: String) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses a `postgres://` or `postgresql://` URL. Returns nil when it is not one.
    public init?(url text: String) {
        guard let components = URLComponents(string: text),
            components.scheme == "postgres" || components.scheme == "postgresql",
            let host = components.host, !host.isEmpty,
            let user = components.user, !user.isEmpty
        else { return nil }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !database.isEmpty else { return nil }
        self.init(
            host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: components.password?.removingPercentEncoding, database: database)
    }

    /// The same server and database, as another role.
    public func connecting(as username: String, password: String?) -> DatabaseConfiguration {
        var copy = self
        copy.username = username
        copy.password = password
        return copy
    }

    /// The longest a statement of a service's pool may run on the server. The services abandon a
    /// call after their own deadlines (20–30 s, `withDeadline`); without a server-side limit the
    /// abandoned statement would keep running, holding its locks, while the retry queues behind
    /// it. Migrations lift the limit for their own transaction.
    public static let statementTimeout: Duration = .seconds(60)

    /// A pool configuration for postgres-nio (TLS off: local stack and tests run on loopback).
    /// Every session gets `statement_timeout` (`statementTimeout`) and an equal
    /// `idle_in_transaction_session_timeout`, so work a service abandoned cannot hold locks for long.
    public var clientConfiguration: PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: .disable)
        configuration.options.maximumConnections = 16
        configuration.options.connectTimeout = .seconds(5)
        let limit = "\(Self.statementTimeout.components.seconds)s"
        configuration.options.additionalStartupParameters = [("statement_timeout", limit), ("idle_in_transaction_session_timeout", limit)]
        return configuration
    }
}
