import Contracts
import Foundation
import Hummingbird
import NIOCore

// The JSON the billing admin API answers with (contracts/openapi/billing.yaml), written as
// canonical JSON: keys sorted, times RFC 3339 UTC with milliseconds, money in integer minor
// units with its currency, absent values left out.

/// An answer encoded as canonical JSON.
struct JSONAnswer<Body: Encodable & Sendable>: ResponseGenerator, Sendable {
    var status: HTTPResponse.Status = .ok
    var body: Body

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let bytes = try CanonicalJSON.encode(body)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

struct PlanList: Encodable, Sendable {
    var plans: [PlanVersion]
}

struct MappingList: Encodable, Sendable {
    struct Mapping: Encodable, Sendable {
        var provider: String
        var providerPlan: String
        var planCode: String
        var updatedAt: Date
        var updatedBy: String
        enum CodingKeys: String, CodingKey {
            case provider, providerPlan = "provider_plan", planCode = "plan_code", updatedAt = "updated_at", updatedBy = "updated_by"
        }
        init(_ mapping: PriceMapping) {
            provider = mapping.provider.rawValue
            providerPlan = mapping.providerPlan
            planCode = mapping.planCode
            updatedAt = mapping.updatedAt
            updatedBy = mapping.updatedBy
        }
    }
    var mappings: [Mapping]
}

struct MappingAnswer: Encodable, Sendable {
    var mapping: MappingList.Mapping
    var subscriptionsMapped: Int
    enum CodingKeys: String, CodingKey { case mapping, subscriptionsMapped = "subscriptions_mapped" }
}

struct UnmappedList: Encodable, Sendable {
    struct Entry: Encodable, Sendable {
        var provider: String
        var providerPlan: String
        var subscriptions: Int
        var firstSeen: Date
        enum CodingKeys: String, CodingKey { case provider, providerPlan = "provider_plan", subscriptions, firstSeen = "first_seen" }
    }
    var unmapped: [Entry]
}

/// One subscription: its projection (billing status, plan, pause), its entitlement and, for
/// the single view, its history.
struct SubscriptionBody: Encodable, Sendable {
    struct Entry: Encodable, Sendable {
        var seq: Int64
        var kind: String
        var change: SubscriptionChange
        var causeEventID: String?
        var actor: String?
        var recordedAt: Date
        enum CodingKeys: String, CodingKey { case seq, kind, change, causeEventID = "cause_event_id", actor, recordedAt = "recorded_at" }
    }
    var id: String
    var provider: String
    var subscriptionID: String
    var customerRef: String?
    var providerPlan: String
    var unmapped: Bool
    var subscription: SubscriptionProjection
    var entitlement: EffectiveEntitlement?
    var entitlementRevision: Int64
    var createdAt: Date
    var updatedAt: Date
    var history: [Entry]?

    enum CodingKeys: String, CodingKey {
        case id, provider, subscriptionID = "subscription_id", customerRef = "customer_ref", providerPlan = "provider_plan", unmapped, subscription
        case entitlement, entitlementRevision = "entitlement_revision", createdAt = "created_at", updatedAt = "updated_at", history
    }

    init(_ row: SubscriptionRow, history: [HistoryRow]? = nil) {
        let projection = row.stored.projection
        id = row.stored.id.uuidString.lowercased()
        provider = projection.reference.provider.rawValue
        subscriptionID = projection.reference.subscriptionID
        customerRef = projection.customerRef
        providerPlan = projection.providerPlan
        unmapped = projection.plan == nil
        subscription = projection
        entitlement = row.stored.entitlement
        entitlementRevision = row.stored.entitlementRevision
        createdAt = row.createdAt
        updatedAt = row.updatedAt
        self.history = history?.map {
            Entry(seq: $0.seq, kind: $0.kind, change: $0.change, causeEventID: $0.causeEventID, actor: $0.actor, recordedAt: $0.recordedAt)
        }
    }
}

struct SubscriptionList: Encodable, Sendable {
    var subscriptions: [SubscriptionBody]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case subscriptions, nextCursor = "next_cursor" }
}

/// The billing status of one subscription, flat: what support reads to answer "why was this
/// account blocked".
struct StatusBody: Encodable, Sendable {
    var id: String
    var provider: String
    var subscriptionID: String
    var customerRef: String?
    var status: String
    var planCode: String?
    var pauseReasonCode: String?
    var pausedAt: Date?
    var pauseSource: String?
    var resumeReasonCode: String?
    var resumedAt: Date?
    var canceledAt: Date?
    var access: String?
    var blocks: [EntitlementBlock]

    enum CodingKeys: String, CodingKey {
        case id, provider, subscriptionID = "subscription_id", customerRef = "customer_ref", status, planCode = "plan_code"
        case pauseReasonCode = "pause_reason_code", pausedAt = "paused_at", pauseSource = "pause_source", resumeReasonCode = "resume_reason_code"
        case resumedAt = "resumed_at", canceledAt = "canceled_at", access, blocks
    }

    init(_ stored: StoredSubscription) {
        let projection = stored.projection
        id = stored.id.uuidString.lowercased()
        provider = projection.reference.provider.rawValue
        subscriptionID = projection.reference.subscriptionID
        customerRef = projection.customerRef
        status = projection.status.rawValue
        planCode = projection.plan?.code
        pauseReasonCode = projection.pause?.reasonCode
        pausedAt = projection.pause?.pausedAt
        pauseSource = projection.pause?.source
        resumeReasonCode = projection.lastResume?.reasonCode
        resumedAt = projection.lastResume?.resumedAt
        canceledAt = projection.canceledAt
        access = stored.entitlement?.access.rawValue
        blocks = stored.entitlement?.blocks ?? []
    }
}

struct StatusList: Encodable, Sendable {
    var subscriptions: [StatusBody]
    var nextCursor: String?
    enum CodingKeys: String, CodingKey { case subscriptions, nextCursor = "next_cursor" }
}

/// One account in dunning: its oldest unpaid invoice drives the steps.
struct DunningEntry: Encodable, Sendable {
    var provider: String
    var subscriptionID: String?
    var customerRef: String?
    var invoiceID: String
    var invoiceNumber: String?
    var unpaidInvoices: Int
    var amountDue: Money
    var failedAt: Date
    var days: Int
    var step: String?
    var nextAction: String?
    var nextActionAt: Date?
    var blocked: Bool

    enum CodingKeys: String, CodingKey {
        case provider, subscriptionID = "subscription_id", customerRef = "customer_ref", invoiceID = "invoice_id", invoiceNumber = "invoice_number"
        case unpaidInvoices = "unpaid_invoices", amountDue = "amount_due", failedAt = "failed_at", days, step, nextAction = "next_action"
        case nextActionAt = "next_action_at", blocked
    }
}

struct DunningList: Encodable, Sendable {
    var accounts: [DunningEntry]
}

struct PolicyBody: Codable, Sendable {
    var steps: [DunningStep]
}

struct JobRunBody: Encodable, Sendable {
    var job: String
    var outcome: String
    var processed: Int?
    var deferred: Int?
    var error: String?
}
