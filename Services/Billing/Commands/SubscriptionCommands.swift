import Contracts
import Foundation
import Logging
import PostgresNIO
import Storage

/// What people do to subscriptions and the catalog: each command runs in one tenant
/// transaction that applies it through the same rules as a consumed event
/// (`SubscriptionUpdates`), writes the audit row (actor, action, target, before, after,
/// request id) and queues any entitlement change, so nothing is half-applied.
struct SubscriptionCommands: Sendable {
    let queries: BillingQueries
    let audit: AuditLog
    let logger: Logger
    let now: @Sendable () -> Date

    /// A person, with the request the command came in.
    struct Actor: Sendable {
        var subject: String
        var correlationID: String
    }

    enum Failure: Error, Equatable {
        case unknownSubscription
        case unknownPlan(String)
        case refused(SubscriptionRefusal)
    }

    // MARK: Subscriptions

    func pause(org: TenantID, id: UUID, reasonCode: String, by actor: Actor) async throws -> Result<StoredSubscription, Failure> {
        try await change(org: org, id: id, action: "subscription.pause", by: actor) { time in
            .pause(action: OperatorAction(reasonCode: reasonCode, actor: actor.subject, at: time))
        }
    }

    func resume(org: TenantID, id: UUID, reasonCode: String, by actor: Actor) async throws -> Result<StoredSubscription, Failure> {
        try await change(org: org, id: id, action: "subscription.resume", by: actor) { time in
            .resume(action: OperatorAction(reasonCode: reasonCode, actor: actor.subject, at: time))
        }
    }

    /// Puts the subscription on `planCode` (its newest version unless `version` is given). It
    /// stands until a provider event about a change made after this correction.
    func correctPlan(org: TenantID, id: UUID, planCode: String, version: Int?, reason: String, by actor: Actor) async throws -> Result<StoredSubscription, Failure> {
        try await queries.inTenant(org) { store, connection in
            let versions = try await queries.planVersions(code: planCode, connection: connection)
            guard let chosen = version.map({ wanted in versions.first { $0.version == wanted } }) ?? versions.last else {
                return .failure(.unknownPlan(version.map { "\(planCode) version \($0)" } ?? planCode))
            }
            let time = BillingClock.instant(now())
            let plan = PlanAssignment(code: chosen.code, version: chosen.version, source: .operator, correctedAt: time, reason: reason, actor: actor.subject)
            return try await apply(.correctPlan(plan: plan), org: org, id: id, action: "subscription.plan", at: time, by: actor, store: store, connection: connection)
        }
    }

    private func change(org: TenantID, id: UUID, action: String, by actor: Actor, _ make: (Date) -> SubscriptionChange) async throws -> Result<StoredSubscription, Failure> {
        try await queries.inTenant(org) { store, connection in
            let time = BillingClock.instant(now())
            return try await apply(make(time), org: org, id: id, action: action, at: time, by: actor, store: store, connection: connection)
        }
    }

    private func apply(
        _ change: SubscriptionChange, org: TenantID, id: UUID, action: String, at time: Date, by actor: Actor, store: PostgresBillingStore,
        connection: PostgresConnection
    ) async throws -> Result<StoredSubscription, Failure> {
        guard let reference = try await queries.reference(of: id, connection: connection) else { return .failure(.unknownSubscription) }
        let cause = ChangeCause(eventID: nil, actor: actor.subject, correlationID: actor.correlationID, causationID: "request:\(actor.correlationID)")
        switch try await SubscriptionUpdates.apply(change, to: reference, cause: cause, tenant: org, store: store, now: time) {
        case .failure(let refusal):
            return .failure(.refused(refusal))
        case .success(let applied):
            try await audit.record(
                org: org, actor: actor.subject, action: action, target: "subscription:\(id)", before: applied.before.map(AuditSnapshot.init),
                after: AuditSnapshot(applied.subscription.projection), correlationID: actor.correlationID, on: connection, logger: logger)
            return .success(applied.subscription)
        }
    }
}

/// The fields of a subscription an audit row shows before and after a command.
struct AuditSnapshot: Encodable {
    var status: String
    var planCode: String?
    var planVersion: Int?
    var planSource: String?
    var pauseReasonCode: String?
    var resumeReasonCode: String?

    init(_ projection: SubscriptionProjection) {
        status = projection.status.rawValue
        planCode = projection.plan?.code
        planVersion = projection.plan?.version
        planSource = projection.plan?.source.rawValue
        pauseReasonCode = projection.pause?.reasonCode
        resumeReasonCode = projection.lastResume?.reasonCode
    }

    enum CodingKeys: String, CodingKey {
        case status, planCode = "plan_code", planVersion = "plan_version", planSource = "plan_source", pauseReasonCode = "pause_reason_code"
        case resumeReasonCode = "resume_reason_code"
    }
}

/// Billing's times: milliseconds, as every stored and published time is written.
enum BillingClock {
    static func instant(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }
}
