import Contracts
import Foundation
import Hummingbird

/// A delivery as the admin API shows it. The recipient appears as its customer reference, or as
/// explicit details with the address masked (`j•••@example.com`): support can tell who it was
/// for without the API copying personal data into every answer.
struct DeliveryBody: Codable, ResponseEncodable, Sendable {
    var id: String
    var dedupeKey: String
    var templateKey: String
    var status: String
    var channels: [String]
    var channel: String?
    var provider: String?
    var offline: Bool
    var recipient: RecipientBody
    var locale: String?
    var attempts: Int
    var round: Int
    var nextAttemptAt: Date?
    var lastReason: String?
    var lastDetail: String?
    var causeType: String
    var causeEventID: String
    var createdAt: Date
    var updatedAt: Date
    var finishedAt: Date?
    var attemptLog: [AttemptRecord]?

    struct RecipientBody: Codable, Sendable {
        var customer: CustomerReference?
        var email: String?
        var phone: String?
        var endpointID: String?
        enum CodingKeys: String, CodingKey { case customer, email, phone, endpointID = "endpoint_id" }
    }

    init(_ record: DeliveryRecord, attempts: [AttemptRecord]? = nil) {
        let state = record.state
        id = state.id.uuidString.lowercased()
        dedupeKey = record.dedupeKey
        templateKey = record.templateKey
        status = state.status.rawValue
        channels = record.channels.map(\.rawValue)
        channel = state.channel?.rawValue
        provider = state.provider
        offline = state.offline
        recipient = RecipientBody(
            customer: record.recipient.customer, email: record.recipient.address?.email.map(Self.mask), phone: record.recipient.address?.phone.map(Self.mask),
            endpointID: record.recipient.address?.endpointID)
        locale = record.locale
        self.attempts = state.attempts
        round = state.round
        nextAttemptAt = state.status.isFinal ? nil : state.nextAttemptAt
        lastReason = state.lastReason
        lastDetail = state.lastDetail
        causeType = record.causeType
        causeEventID = record.causeEventID
        createdAt = record.createdAt
        updatedAt = record.updatedAt
        finishedAt = state.finishedAt
        attemptLog = attempts
    }

    /// Keeps the first character and the domain of an email, the last two digits of a phone.
    static func mask(_ value: String) -> String {
        if let at = value.firstIndex(of: "@") { return String(value.prefix(1)) + "•••" + value[at...] }
        return "•••" + value.suffix(2)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(dedupeKey, forKey: .dedupeKey)
        try container.encode(templateKey, forKey: .templateKey)
        try container.encode(status, forKey: .status)
        try container.encode(channels, forKey: .channels)
        try container.encode(channel, forKey: .channel)
        try container.encode(provider, forKey: .provider)
        try container.encode(offline, forKey: .offline)
        try container.encode(recipient, forKey: .recipient)
        try container.encode(locale, forKey: .locale)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(round, forKey: .round)
        try container.encode(nextAttemptAt, forKey: .nextAttemptAt)
        try container.encode(lastReason, forKey: .lastReason)
        try container.encode(lastDetail, forKey: .lastDetail)
        try container.encode(causeType, forKey: .causeType)
        try container.encode(causeEventID, forKey: .causeEventID)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(finishedAt, forKey: .finishedAt)
        try container.encodeIfPresent(attemptLog, forKey: .attemptLog)
    }

    enum CodingKeys: String, CodingKey {
        case id, dedupeKey = "dedupe_key", templateKey = "template_key", status, channels, channel, provider, offline, recipient, locale, attempts, round
        case nextAttemptAt = "next_attempt_at", lastReason = "last_reason", lastDetail = "last_detail", causeType = "cause_type"
        case causeEventID = "cause_event_id", createdAt = "created_at", updatedAt = "updated_at", finishedAt = "finished_at", attemptLog = "attempt_log"
    }
}

struct DeliveryList: Codable, ResponseEncodable, Sendable {
    var deliveries: [DeliveryBody]
    /// Pass as `?after=` for the next page; null on the last page.
    var nextCursor: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(deliveries, forKey: .deliveries)
        try container.encode(nextCursor, forKey: .nextCursor)
    }

    enum CodingKeys: String, CodingKey { case deliveries, nextCursor = "next_cursor" }
}

/// What a bulk replay did, or would do in a dry run.
struct BulkReplayBody: Codable, ResponseEncodable, Sendable {
    var dryRun: Bool
    /// How many dead deliveries match (at most the limit).
    var matched: Int
    var replayed: Int
    /// Matches per last reason, e.g. `{"attempts_exhausted:smtp_4xx": 3}`.
    var reasons: [String: Int]
    var deliveryIDs: [String]

    enum CodingKeys: String, CodingKey { case dryRun = "dry_run", matched, replayed, reasons, deliveryIDs = "delivery_ids" }
}

/// The cursor of a delivery page: the last row's creation time (ms) and id.
enum DeliveryCursor {
    /// Creation times are whole milliseconds when stored, but come back from PostgreSQL's
    /// microseconds through a `Double`, a hair below or above the millisecond: rounding to the
    /// nearest (never down) gives the stored millisecond, so the next page starts exactly after
    /// this row and no row of the same millisecond is skipped.
    static func encode(_ record: DeliveryRecord) -> String {
        "\(Int64((record.createdAt.timeIntervalSince1970 * 1000).rounded()))_\(record.state.id.uuidString.lowercased())"
    }

    static func decode(_ text: String) -> (Date, UUID)? {
        let parts = text.split(separator: "_")
        guard parts.count == 2, let ms = Int64(parts[0]), ms >= 0, let id = UUID(uuidString: String(parts[1])) else { return nil }
        return (Date(timeIntervalSince1970: Double(ms) / 1000), id)
    }
}
