import Logging
import PostgresNIO
import ServiceLifecycle

/// Listens on one `NOTIFY` channel on a connection of its own and calls `heard` for every
/// notification, until the task is cancelled or the service shuts down. When the connection is
/// lost it reconnects with backoff; notifications sent meanwhile are missed, so a listener
/// wakes a loop that also polls, never replaces the poll.
public struct ChannelListener: Sendable {
    public let client: PostgresClient
    public let channel: String
    public let logger: Logger

    public init(client: PostgresClient, channel: String, logger: Logger) {
        self.client = client
        self.channel = channel
        self.logger = logger
    }

    public func run(heard: @escaping @Sendable () -> Void) async {
        var backoff = Backoff()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let started = ContinuousClock.now
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        for try await _ in notifications { heard() }
                    }
                }
            } catch {
                // A connection that listened for a while was healthy: start the backoff over.
                if ContinuousClock.now - started > .seconds(30) { backoff.reset() }
                guard !Task.isCancelled && !Task.isShuttingDownGracefully else { return }
                logger.warning("listener lost its database connection; retrying", metadata: ["channel": "\(channel)", "error": "\(String(reflecting: error))"])
                // Whatever was announced meanwhile is found by the caller's next look.
                heard()
            }
            try? await Task.sleep(for: backoff.next())
        }
    }
}
