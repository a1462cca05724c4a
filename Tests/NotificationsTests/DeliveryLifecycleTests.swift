import Contracts
import Foundation
import PropertyBased
import Testing

@testable import Notifications

/// The delivery rules as plain functions: the retry schedule, the lifecycle's transitions,
/// replay, the per-recipient limit, recipient resolution and the relay breaker.
@Suite("Delivery lifecycle")
struct DeliveryLifecycleTests {
    static let t0 = Date(timeIntervalSince1970: 1_780_000_000)
    static let id = UUID(uuidString: "0b4e7c52-9d1f-8a3e-b6c2-5f0a1d2e3c4b")!

    static func sending(attempts: Int = 1) -> DeliveryState {
        var state = DeliveryState.new(id: id, notBefore: nil, now: t0)
        for _ in 0..<attempts { state = DeliveryLifecycle.startAttempt(state, channel: .email) }
        return state
    }

    // MARK: Retry schedule

    @Test func theStandardScheduleGrowsBySixAndStopsAtTenHours() {
        let policy = RetryPolicy.standard
        let seconds = (1...8).map { policy.backoff(afterAttempt: $0).components.seconds }
        #expect(seconds == [5, 30, 180, 1080, 6480, 36_000, 36_000, 36_000])
    }

    @Test(arguments: 1...8)
    func jitterStaysWithinItsBandAndIsTheSameEachTime(attempt: Int) {
        let policy = RetryPolicy.standard
        let plain = Double(policy.backoff(afterAttempt: attempt).milliseconds)
        let first = Double(policy.delay(afterAttempt: attempt, deliveryID: Self.id).milliseconds)
        #expect(first >= plain * 0.8 - 1 && first <= plain * 1.2 + 1)
        #expect(policy.delay(afterAttempt: attempt, deliveryID: Self.id) == policy.delay(afterAttempt: attempt, deliveryID: Self.id))
    }

    @Test func jitterSpreadsDeliveriesThatFailedTogether() {
        let delays = Set((0..<50).map { _ in RetryPolicy.standard.delay(afterAttempt: 3, deliveryID: UUID()).milliseconds })
        #expect(delays.count > 40)
    }

    @Test func retryAfterPushesTheAttemptBackButNotBeyondADay() {
        let policy = RetryPolicy.standard
        #expect(policy.delay(afterAttempt: 1, deliveryID: Self.id, retryAfter: .seconds(120)) == .seconds(120))
        #expect(policy.delay(afterAttempt: 1, deliveryID: Self.id, retryAfter: .seconds(10 * 86_400)) == .seconds(86_400))
        // A Retry-After shorter than the backoff does not shorten it.
        #expect(policy.delay(afterAttempt: 4, deliveryID: Self.id, retryAfter: .seconds(1)) > .seconds(800))
    }

    // MARK: Transitions

    @Test func aDeliveredAttemptEndsSent() {
        let settled = DeliveryLifecycle.settle(
            Self.sending(), with: AttemptResult(outcome: .delivered, provider: "smtp:primary", replyCode: "250"), policy: .standard, now: Self.t0)
        #expect(settled.state.status == .sent)
        #expect(settled.announced == .sent)
        #expect(settled.state.provider == "smtp:primary")
        #expect(settled.state.finishedAt == Self.t0)
        #expect(!settled.state.offline)
    }

    @Test func anOfflineChannelEndsSentAndSaysSo() {
        let settled = DeliveryLifecycle.settle(
            Self.sending(), with: AttemptResult(outcome: .deliveredOffline, provider: "whatsapp:offline"), policy: .standard, now: Self.t0)
        #expect(settled.state.status == .sent)
        #expect(settled.state.offline)
    }

    @Test func aTransientFailureSchedulesTheNextAttemptByThePolicy() {
        let policy = RetryPolicy(base: .seconds(1), factor: 2, maximum: .seconds(4), maxAttempts: 4, jitter: 0)
        var state = Self.sending()
        var gaps: [TimeInterval] = []
        for attempt in 1...3 {
            let settled = DeliveryLifecycle.settle(
                state, with: AttemptResult(outcome: .transient, provider: "smtp:primary", replyCode: "451", reason: "smtp_4xx"), policy: policy, now: Self.t0)
            #expect(settled.state.status == .retrying, "attempt \(attempt)")
            #expect(settled.announced == .failed)
            gaps.append(settled.state.nextAttemptAt.timeIntervalSince(Self.t0))
            state = DeliveryLifecycle.startAttempt(settled.state, channel: .email)
        }
        #expect(gaps == [1, 2, 4])
        let last = DeliveryLifecycle.settle(state, with: AttemptResult(outcome: .transient, provider: "smtp:primary", reason: "smtp_4xx"), policy: policy, now: Self.t0)
        #expect(last.state.status == .dead)
        #expect(last.announced == .dead)
        #expect(last.state.lastReason == "attempts_exhausted:smtp_4xx")
    }

    @Test(arguments: [AttemptOutcome.permanent, .endpointGone])
    func aPermanentFailureIsDeadAtOnce(outcome: AttemptOutcome) {
        let settled = DeliveryLifecycle.settle(Self.sending(), with: AttemptResult(outcome: outcome, provider: "webhook", reason: "x"), policy: .standard, now: Self.t0)
        #expect(settled.state.status == .dead)
        #expect(settled.disablesEndpoint == (outcome == .endpointGone))
    }

    @Test func aDeferralCountsNoAttempt() {
        let state = DeliveryState.new(id: Self.id, notBefore: nil, now: Self.t0)
        let later = Self.t0.addingTimeInterval(600)
        let deferred = DeliveryLifecycle.deferred(state, until: later, reason: "recipient_limit")
        #expect(deferred.attempts == 0)
        #expect(deferred.status == .scheduled)
        #expect(deferred.nextAttemptAt == later)
    }

    @Test func notBeforeInThePastMeansNow() {
        #expect(DeliveryState.new(id: Self.id, notBefore: Self.t0.addingTimeInterval(-60), now: Self.t0).nextAttemptAt == Self.t0)
        #expect(DeliveryState.new(id: Self.id, notBefore: Self.t0.addingTimeInterval(60), now: Self.t0).nextAttemptAt == Self.t0.addingTimeInterval(60))
    }

    @Test func aLeaseThatRanOutMakesTheDeliveryDueAgain() {
        let state = Self.sending()
        #expect(!DeliveryLifecycle.isDue(state, leaseUntil: Self.t0.addingTimeInterval(10), now: Self.t0))
        #expect(DeliveryLifecycle.isDue(state, leaseUntil: Self.t0.addingTimeInterval(-1), now: Self.t0))
    }

    // MARK: Replay

    @Test func onlyADeadDeliveryIsReplayedAndItGetsANewRound() throws {
        let dead = DeliveryLifecycle.settle(Self.sending(attempts: 3), with: AttemptResult(outcome: .permanent, provider: "smtp:primary"), policy: .standard, now: Self.t0)
            .state
        let replayed = try DeliveryLifecycle.replay(dead, now: Self.t0)
        #expect(replayed.status == .scheduled)
        #expect(replayed.round == 2)
        #expect(replayed.roundAttempts == 0)
        #expect(replayed.attempts == 3)
        #expect(replayed.finishedAt == nil)
        #expect(throws: ReplayRefusal.notDead(.scheduled)) { try DeliveryLifecycle.replay(replayed, now: Self.t0) }
    }

    @Test func noSequenceOfOutcomesSendsMoreAttemptsThanARoundAllows() async {
        let choices: [AttemptOutcome] = [.transient, .transient, .transient, .permanent, .delivered]
        let outcomes = Gen.int(in: 0...4).map { choices[$0] }
        await propertyCheck(count: 100, input: outcomes.array(of: 1...20)) { sequence in
            let policy = RetryPolicy(base: .seconds(1), factor: 2, maximum: .seconds(8), maxAttempts: 5, jitter: 0.2)
            var state = DeliveryState.new(id: UUID(), notBefore: nil, now: Self.t0)
            for outcome in sequence where !state.status.isFinal {
                state = DeliveryLifecycle.startAttempt(state, channel: .email)
                state = DeliveryLifecycle.settle(state, with: AttemptResult(outcome: outcome, provider: "p"), policy: policy, now: Self.t0).state
            }
            #expect(state.attempts <= policy.maxAttempts)
            if state.status == .retrying { #expect(state.attempts < policy.maxAttempts) }
        }
    }

    // MARK: Recipients

    static let customer = CustomerReference(provider: .stripe, customerID: "cus_1")

    @Test func theFirstAllowedChannelWithAnAddressWins() {
        let contact = Contact(customer: Self.customer, email: nil, phone: "+5511987654321", name: "Ana", locale: "pt-BR")
        let resolution = RecipientResolution.resolve(NotificationRecipient(customer: Self.customer), channels: [.email, .whatsapp], contact: contact, endpoint: nil)
        #expect(resolution == .resolved(.whatsapp(phone: "+5511987654321"), name: "Ana", locale: "pt-BR"))
    }

    @Test func aCustomerWithoutContactDetailsWaitsForThem() {
        #expect(RecipientResolution.resolve(NotificationRecipient(customer: Self.customer), channels: [.email], contact: nil, endpoint: nil) == .awaitingContact)
    }

    @Test func noAddressForAnyAllowedChannelIsUnreachable() {
        let contact = Contact(customer: Self.customer, email: "ana@example.com", phone: nil, name: nil, locale: nil)
        guard
            case .unreachable(let reason, _) = RecipientResolution.resolve(
                NotificationRecipient(customer: Self.customer), channels: [.whatsapp], contact: contact, endpoint: nil)
        else {
            Issue.record("expected unreachable")
            return
        }
        #expect(reason == "no_address")
    }

    @Test func aDisabledOrForeignEndpointIsNoAddress() {
        let endpoint = WebhookEndpoint(id: "we_1", url: "https://example.com/hook", secret: "whsec_x", active: false)
        let recipient = NotificationRecipient(address: NotificationAddress(endpointID: "we_1"))
        #expect(RecipientResolution.resolve(recipient, channels: [.webhook], contact: nil, endpoint: endpoint) != .resolved(.webhook(endpoint: endpoint), name: nil, locale: nil))
        var active = endpoint
        active.active = true
        #expect(RecipientResolution.resolve(recipient, channels: [.webhook], contact: nil, endpoint: active) == .resolved(.webhook(endpoint: active), name: nil, locale: nil))
    }

    @Test(arguments: ["ana@example.com", "a.b+c@mail.example.org"])
    func validEmails(_ address: String) { #expect(EmailAddressRule.isValid(address)) }

    @Test(arguments: ["ana", "ana@", "@example.com", "a b@example.com", "ana@example", "a@b@example.com", "ana@example.com\r\nBcc: x@y.z", "<a@b.c>"])
    func invalidEmails(_ address: String) { #expect(!EmailAddressRule.isValid(address)) }

    @Test(arguments: [("+5511987654321", true), ("+14155550123", true), ("5511987654321", false), ("+0123456789", false), ("+12", false), ("+1415555012a", false)])
    func e164(_ phone: String, _ valid: Bool) { #expect(PhoneNumberRule.isE164(phone) == valid) }

    // MARK: Limits and failover

    @Test func theHourlyLimitHoldsTheNextMessageUntilTheOldestLeavesTheWindow() {
        let limit = RecipientLimit(perHour: 3)
        let sends = [Self.t0.addingTimeInterval(-3000), Self.t0.addingTimeInterval(-1200), Self.t0.addingTimeInterval(-60)]
        #expect(limit.decide(recent: sends, now: Self.t0) == .wait(until: Self.t0.addingTimeInterval(600)))
        #expect(limit.decide(recent: Array(sends.dropFirst()), now: Self.t0) == .send)
        #expect(limit.decide(recent: sends + [Self.t0.addingTimeInterval(-4000)], now: Self.t0) == .wait(until: Self.t0.addingTimeInterval(600)))
    }

    @Test func theBreakerOpensAfterConsecutiveFailuresAndProbesAfterTheCoolDown() {
        var breaker = CircuitBreaker(threshold: 2, coolDown: .seconds(30))
        let first = breaker.allows(now: Self.t0)
        #expect(first)
        breaker.recordFailure(now: Self.t0)
        breaker.recordSuccess()
        breaker.recordFailure(now: Self.t0)
        let afterReset = breaker.allows(now: Self.t0)
        #expect(afterReset, "a success in between resets the count")
        breaker.recordFailure(now: Self.t0)
        do {
            let allowed = breaker.allows(now: Self.t0.addingTimeInterval(29))
            #expect(!allowed)
        }
        do {
            let allowed = breaker.allows(now: Self.t0.addingTimeInterval(31))
            #expect(allowed, "half-open: one probe")
        }
        do {
            let allowed = breaker.allows(now: Self.t0.addingTimeInterval(31))
            #expect(!allowed, "only one probe at a time")
        }
        breaker.recordFailure(now: Self.t0.addingTimeInterval(32))
        do {
            let allowed = breaker.allows(now: Self.t0.addingTimeInterval(40))
            #expect(!allowed)
        }
        do {
            let allowed = breaker.allows(now: Self.t0.addingTimeInterval(63))
            #expect(allowed)
        }
        breaker.recordSuccess()
        do {
            let allowed = breaker.allows(now: Self.t0.addingTimeInterval(63))
            #expect(allowed)
        }
    }

    @Test func theDeliveryIDIsDerivedFromTheOrgAndTheDedupeKey() {
        let org = TenantID(rawValue: "org_a")!
        let one = DeliveryIdentity.deliveryID(org: org, dedupeKey: "invoice:in_1:dunning:payment_failed")
        #expect(one == DeliveryIdentity.deliveryID(org: org, dedupeKey: "invoice:in_1:dunning:payment_failed"))
        #expect(one != DeliveryIdentity.deliveryID(org: TenantID(rawValue: "org_b")!, dedupeKey: "invoice:in_1:dunning:payment_failed"))
        #expect(one.uuidString.lowercased().split(separator: "-")[2].first == "8")
    }
}

@Suite("Provider failover")
struct FailoverTests {
    @Test func theSecondProviderTakesOverAfterConsecutiveFailuresAndTheFirstIsProbedAgain() async throws {
        let failover = Failover(["primary", "fallback"], threshold: 2, coolDown: .milliseconds(300))
        var used: [String] = []
        for _ in 0..<4 {
            let result = try #require(
                await failover.attempt { name in
                    AttemptResult(outcome: name == "primary" ? .transient : .delivered, provider: name)
                })
            used.append(result.provider)
        }
        #expect(used == ["primary", "primary", "fallback", "fallback"])
        try await Task.sleep(for: .milliseconds(350))
        let probe = try #require(await failover.attempt { name in AttemptResult(outcome: .delivered, provider: name) })
        #expect(probe.provider == "primary", "after the cool-down one attempt probes the first again")
        let after = try #require(await failover.attempt { name in AttemptResult(outcome: .delivered, provider: name) })
        #expect(after.provider == "primary", "a successful probe closes its breaker")
    }

    @Test func aRecipientTheProviderRefusesIsNotTheProvidersFailure() async throws {
        let failover = Failover(["primary", "fallback"], threshold: 1, coolDown: .seconds(60))
        _ = await failover.attempt { name in AttemptResult(outcome: .permanent, provider: name, replyCode: "550") }
        let next = try #require(await failover.attempt { name in AttemptResult(outcome: .delivered, provider: name) })
        #expect(next.provider == "primary")
        #expect(await Failover<String>([], threshold: 1, coolDown: .seconds(1)).attempt { _ in AttemptResult(outcome: .delivered, provider: "x") } == nil)
    }
}

@Suite("Delivery list cursor")
struct DeliveryCursorTests {
    @Test(arguments: [-0.000_000_3, 0, 0.000_000_3])
    func aTimeReadBackAHairOffItsMillisecondGivesThatMillisecond(_ offset: Double) throws {
        let stored = Date(timeIntervalSince1970: 1_796_196_861.020)
        let id = UUID()
        let record = DeliveryRecord(
            org: TenantID(rawValue: "org_a")!, state: DeliveryState.new(id: id, notBefore: nil, now: stored), dedupeKey: "k", templateKey: "t", channels: [.email],
            recipient: NotificationRecipient(address: NotificationAddress(email: "a@example.com")), locale: nil, variables: [:], notBefore: nil, causeType: "c",
            causeEventID: "e", correlationID: "r", leaseUntil: nil, createdAt: stored.addingTimeInterval(offset), updatedAt: stored)
        let cursor = try #require(DeliveryCursor.decode(DeliveryCursor.encode(record)))
        #expect(cursor.0 == stored && cursor.1 == id)
    }
}
