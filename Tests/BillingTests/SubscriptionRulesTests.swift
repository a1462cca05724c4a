import Contracts
import Foundation
import PropertyBased
import Testing

@testable import Billing

private let start = Date(timeIntervalSince1970: 1_795_000_000)
private func at(_ hours: Double) -> Date { start.addingTimeInterval(hours * 3600) }

private func fact(
    _ kind: ProviderFact.Kind, status: String, hours: Double, plan: String = "price_pro", mapped: ProviderFact.MappedPlan? = .init(code: "pro", version: 1),
    quantity: Int = 1
)
    -> SubscriptionChange
{
    .provider(
        fact: ProviderFact(
            kind: kind,
            state: SubscriptionState(
                subscriptionID: "sub_1", customerRef: "cus_1", planCode: plan, interval: BillingInterval(unit: .month, count: 1), quantity: quantity,
                unitPrice: Money(amountMinor: 4900, currency: CurrencyCode(rawValue: "USD")!), providerStatus: status, currentPeriodEnd: nil),
            provider: .stripe, occurredAt: at(hours), reason: nil, eventID: "evt_\(hours)", mappedPlan: mapped))
}

private func fold(_ changes: [SubscriptionChange]) throws -> SubscriptionProjection? {
    var projection: SubscriptionProjection?
    for change in changes { projection = try SubscriptionRules.apply(change, to: projection) }
    return projection
}

@Suite struct SubscriptionRulesTests {
    @Test func aLateProviderEventIsStaleAndChangesNothing() throws {
        let active = try #require(try fold([fact(.activated, status: "active", hours: 2)]))
        #expect(throws: SubscriptionRefusal.stale) { try SubscriptionRules.apply(fact(.pastDue, status: "past_due", hours: 1), to: active) }
        #expect(active.status == .active)
    }

    /// The provider facts a property run delivers: one per seed, each at its own hour, of a kind
    /// and with a seat count and price drawn from the seed; in arrival order (the seeds' order).
    private static func arrivals(_ seeds: [Int]) -> [(hours: Double, change: SubscriptionChange, status: BillingStatus, quantity: Int)] {
        let kinds: [(ProviderFact.Kind, String, BillingStatus)] = [
            (.activated, "active", .active), (.changed, "active", .active), (.changed, "past_due", .pastDue), (.pastDue, "past_due", .pastDue),
            (.paused, "paused", .paused), (.resumed, "active", .active), (.canceled, "canceled", .canceled), (.activated, "trialing", .trialing),
        ]
        var used = Set<Int>()
        return seeds.map { seed in
            var hour = seed % 500
            while used.contains(hour) { hour = (hour + 1) % 500 }
            used.insert(hour)
            let (kind, status, billing) = kinds[(seed / 500) % kinds.count]
            let quantity = 1 + (seed / 4000) % 9
            let price = ["price_pro", "price_team", "price_new"][(seed / 40_000) % 3]
            return (Double(hour), fact(kind, status: status, hours: Double(hour), plan: price, quantity: quantity), billing, quantity)
        }
    }

    /// Whatever order the facts arrive in, each applies only when it is newer than the last one
    /// applied, the provider version never goes back, and the subscription ends as the newest
    /// fact says: its status, seats and plan, the same as when they arrive in order.
    @Test func providerFactsInAnyOrderNeverRollASubscriptionBack() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0...1_000_000).array(of: 1...20)) { seeds in
            let arrivals = Self.arrivals(seeds)
            var projection: SubscriptionProjection?
            var newest = -1.0
            for arrival in arrivals {
                do {
                    let next = try SubscriptionRules.apply(arrival.change, to: projection)
                    #expect(arrival.hours > newest, "a fact older than the newest applied was applied")
                    #expect(next.providerVersion >= projection?.providerVersion ?? next.providerVersion)
                    projection = next
                    newest = arrival.hours
                } catch {
                    #expect((error as? SubscriptionRefusal) == .stale && arrival.hours <= newest, "refused for \(error) at hour \(arrival.hours), newest \(newest)")
                }
            }
            guard let latest = arrivals.max(by: { $0.hours < $1.hours }), let projection else {
                Issue.record("no projection from \(arrivals.count) facts")
                return
            }
            #expect(projection.status == latest.status)
            #expect(projection.quantity == latest.quantity)
            #expect(projection.providerVersion == at(latest.hours))
            let inOrder = try? fold(arrivals.sorted { $0.hours < $1.hours }.map(\.change))
            #expect(inOrder?.status == projection.status && inOrder?.quantity == projection.quantity && inOrder?.providerPlan == projection.providerPlan)
        }
    }

    @Test func anUnmappedPriceKeepsNoPlan() throws {
        let projection = try #require(try fold([fact(.activated, status: "active", hours: 1, plan: "price_x", mapped: nil)]))
        #expect(projection.plan == nil)
        #expect(EntitlementRules.effective(of: projection).planCode == nil)
    }

    @Test func anOperatorCorrectionStandsUntilANewerProviderChange() throws {
        let correction = PlanAssignment(code: "scale", version: 2, source: .operator, correctedAt: at(5), reason: "upgrade missed", actor: "ana")
        let corrected = try #require(try fold([fact(.activated, status: "active", hours: 1), .correctPlan(plan: correction)]))
        let older = try SubscriptionRules.apply(fact(.changed, status: "active", hours: 4), to: corrected)
        #expect(older.plan?.code == "scale")
        let newer = try SubscriptionRules.apply(fact(.changed, status: "active", hours: 6), to: older)
        #expect(newer.plan?.code == "pro")
    }

    @Test func pauseAndResumeReturnToThePreviousStatusAndRefuseRepeats() throws {
        let pastDue = try #require(try fold([fact(.activated, status: "active", hours: 1), fact(.pastDue, status: "past_due", hours: 2)]))
        let paused = try SubscriptionRules.apply(.pause(action: OperatorAction(reasonCode: "customer_request", actor: "ana", at: at(3))), to: pastDue)
        #expect(paused.status == .paused)
        #expect(paused.pause?.reasonCode == "customer_request")
        #expect(EntitlementRules.effective(of: paused).access == .blocked)
        #expect(throws: SubscriptionRefusal.alreadyPaused) {
            try SubscriptionRules.apply(.pause(action: OperatorAction(reasonCode: "again", actor: "ana", at: at(4))), to: paused)
        }
        // A provider fact during an operator pause changes what a resume returns to, not the pause.
        let stillPaused = try SubscriptionRules.apply(fact(.changed, status: "active", hours: 4), to: paused)
        #expect(stillPaused.status == .paused)
        let resumed = try SubscriptionRules.apply(.resume(action: OperatorAction(reasonCode: "paid", actor: "ana", at: at(5))), to: stillPaused)
        #expect(resumed.status == .active)
        #expect(resumed.lastResume?.reasonCode == "paid")
        #expect(throws: SubscriptionRefusal.notPaused) {
            try SubscriptionRules.apply(.resume(action: OperatorAction(reasonCode: "again", actor: "ana", at: at(6))), to: resumed)
        }
    }

    @Test func aProviderPauseRecordsItsSourceAndItsResumeLiftsIt() throws {
        let paused = try #require(try fold([fact(.activated, status: "active", hours: 1), fact(.paused, status: "paused", hours: 2)]))
        #expect(paused.pause?.source == "stripe")
        let resumed = try SubscriptionRules.apply(fact(.resumed, status: "active", hours: 3), to: paused)
        #expect(resumed.status == .active)
        #expect(EntitlementRules.effective(of: resumed).access == .granted)
    }

    @Test func aDunningBlockWithholdsAccessUntilLifted() throws {
        let active = try #require(try fold([fact(.activated, status: "active", hours: 1)]))
        let block = EntitlementBlock(kind: .dunning, reason: "payment_overdue", since: at(2), source: "dunning")
        let blocked = try SubscriptionRules.apply(.dunningBlock(block: block), to: active)
        #expect(EntitlementRules.effective(of: blocked) == EffectiveEntitlement(access: .blocked, planCode: "pro", planVersion: 1, limits: [:], blocks: [block]))
        let lifted = try SubscriptionRules.apply(.dunningLift(at: at(3)), to: blocked)
        #expect(EntitlementRules.effective(of: lifted).access == .granted)
    }

    @Test func rebuildingTheHistoryGivesTheSameProjection() throws {
        let history: [SubscriptionChange] = [
            fact(.activated, status: "active", hours: 1), fact(.pastDue, status: "past_due", hours: 2),
            .pause(action: OperatorAction(reasonCode: "support", actor: "ana", at: at(3))), fact(.changed, status: "active", hours: 4),
            .resume(action: OperatorAction(reasonCode: "ok", actor: "ana", at: at(5))),
        ]
        let live = try fold(history)
        let rebuilt = SyncRules.rebuild(history)
        #expect(rebuilt.refused.isEmpty)
        #expect(rebuilt.projection == live)
        var tampered = try #require(live)
        tampered.status = .canceled
        let differences = SyncRules.differences(item: "subscription:stripe:sub_1", stored: tampered, rebuilt: rebuilt.projection)
        #expect(differences.map(\.field) == ["status"])
    }
}

@Suite struct DunningAndCadenceTests {
    let invoice = UnpaidInvoice(provider: .stripe, invoiceID: "in_1", number: "Q-1", amount: Money(amountMinor: 980, currency: CurrencyCode(rawValue: "USD")!), failedAt: start)

    @Test(arguments: [(0, [DunningAction]()), (3, [.reminder]), (7, [.reminder, .block]), (14, [.reminder, .block, .finalNotice])])
    func stepsDueByDay(day: Int, expected: [DunningAction]) {
        let due = DunningRules.due(policy: .standard, invoice: invoice, done: [.notice], now: start.addingTimeInterval(Double(day) * 86_400 + 60))
        #expect(due.map(\.step.action) == expected)
        // Of several message steps due at once only the latest is sent; the block always applies.
        let sent = due.filter { $0.disposition == .send }.map(\.step.action)
        #expect(sent == expected.filter { $0 == .block || $0 == expected.last { $0 != .block } })
    }

    @Test func thePolicyRefusesANoticeAfterDayZeroAndRepeatedActions() {
        #expect(throws: DunningPolicy.Refusal.self) { try DunningPolicy.validated([DunningStep(day: 2, action: .notice)]) }
        #expect(throws: DunningPolicy.Refusal.self) {
            try DunningPolicy.validated([DunningStep(day: 1, action: .reminder), DunningStep(day: 2, action: .reminder)])
        }
        #expect((try? DunningPolicy.validated(DunningPolicy.standard.steps)) == .standard)
    }

    @Test func theCadenceSendsTheLatestDueStepOnlyForActiveSubscriptions() {
        let day = { (n: Double) in start.addingTimeInterval(n * 86_400 + 60) }
        #expect(EngagementRules.due(status: .paused, activatedAt: start, recorded: [], now: day(8)).isEmpty)
        let day8 = EngagementRules.due(status: .active, activatedAt: start, recorded: [], now: day(8))
        #expect(day8.map(\.step.templateKey) == ["engagement.day_7"])
        let late = EngagementRules.due(status: .active, activatedAt: start, recorded: [], now: day(46))
        #expect(late.filter { $0.disposition == .send }.map(\.step.templateKey) == ["engagement.day_30", "nps.day_45"])
        #expect(EngagementRules.due(status: .active, activatedAt: start, recorded: ["engagement.day_7"], now: day(9)).isEmpty)
    }

    @Test func moneyIsShownWithTheCurrencysDecimals() {
        #expect(MoneyText.display(Money(amountMinor: 980, currency: CurrencyCode(rawValue: "USD")!)) == "USD 9.80")
        #expect(MoneyText.display(Money(amountMinor: 500, currency: CurrencyCode(rawValue: "JPY")!)) == "JPY 500")
        #expect(MoneyText.display(Money(amountMinor: -5, currency: CurrencyCode(rawValue: "KWD")!)) == "KWD -0.005")
    }

    @Test func theUsageReportFlagsDriftAndOverage() {
        let lines = UsageRules.report(recorded: ["seats": 4, "bookings": 10], counted: ["seats": 6, "bookings": 10], limits: ["seats": 5])
        #expect(lines.map(\.metric) == ["bookings", "seats"])
        #expect(lines[1] == UsageReportLine(metric: "seats", recorded: 4, counted: 6, limit: 5, overage: true, driftDetected: true))
        #expect(!lines[0].driftDetected)
        #expect(UsageRules.isMonth("2026-12") && !UsageRules.isMonth("2026-13"))
    }
}
