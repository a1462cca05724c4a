import Contracts
import Foundation
import Storage

/// One message ready for its channel: the destination resolved at claim time and the template
/// rendered with the request's variables.
struct OutgoingMessage: Sendable, Equatable {
    var deliveryID: UUID
    var org: TenantID
    var dedupeKey: String
    var destination: Destination
    /// The template in the chosen locale, filled (with the WhatsApp template call when it has one).
    var rendered: RenderedMessage
}

/// Sends one message on its destination's channel. Never throws: every failure is an outcome
/// (`AttemptResult`), so the worker always has something to record.
protocol Courier: Sendable {
    func deliver(_ message: OutgoingMessage) async -> AttemptResult
}
