import Contracts
import Foundation
import Storage

/// A delivery row as the worker and the admin API read it.
struct DeliveryRecord: Sendable, Equatable {
    var org: TenantID
    var state: DeliveryState
    var dedupeKey: String
    var templateKey: String
    var channels: [NotificationChannel]
    var recipient: NotificationRecipient
    var locale: String?
    var variables: [String: String]
    var notBefore: Date?
    var causeType: String
    var causeEventID: String
    var correlationID: String
    var leaseUntil: Date?
    var createdAt: Date
    var updatedAt: Date
}

/// One recorded attempt.
struct AttemptRecord: Sendable, Equatable, Codable {
    var number: Int
    var channel: String?
    var provider: String?
    var outcome: String
    var replyCode: String?
    var reason: String?
    var detail: String?
    var startedAt: Date
    var finishedAt: Date?

    enum CodingKeys: String, CodingKey {
        case number, channel, provider, outcome, replyCode = "reply_code", reason, detail, startedAt = "started_at", finishedAt = "finished_at"
    }
}

/// Ids and keys derived from their cause, so reprocessing derives the same ones.
enum DeliveryIdentity {
    /// The delivery of `dedupeKey` in `org`: a name-based UUID (SHA-256 of both, version and
    /// variant bits set), the same for the same request however often it arrives.
    static func deliveryID(org: TenantID, dedupeKey: String) -> UUID {
        var bytes = Array(ContentHash.sha256(Array("\(org.rawValue)\n\(dedupeKey)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80  // version 8: custom, name-based
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }

    /// The event announcing a delivery's `status` after `attempt` attempts in round `round` (a
    /// replay starts a new round, so a replayed delivery that ends the same way again is announced
    /// again).
    static func eventID(delivery: UUID, round: Int, attempt: Int, status: NotificationDeliveryStatus) -> String {
        "delivery-\(delivery.uuidString.lowercased())-\(round)-\(attempt)-\(status.rawValue)"
    }

    /// A pseudonymous key of an address, per org: what the per-recipient limit counts by,
    /// without storing the address again.
    static func recipientKey(org: TenantID, destination: Destination) -> String {
        ContentHash.sha256Hex(Array("\(org.rawValue)\n\(destination.limitKey)".utf8))
    }
}
