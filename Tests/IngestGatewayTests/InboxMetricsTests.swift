import Testing

@testable import IngestGateway

/// The inbox count reads the whole table; its own cost sets how often it may run.
@Suite struct InboxMetricsTests {
    @Test func aQuickCountRunsEveryInterval() {
        #expect(InboxMetrics.pause(after: .milliseconds(40), interval: .seconds(15)) == .seconds(15))
        #expect(InboxMetrics.pause(after: .milliseconds(300), interval: .seconds(15)) == .seconds(15))
    }

    @Test func aSlowCountWaitsFiftyTimesItsDuration() {
        #expect(InboxMetrics.pause(after: .seconds(1), interval: .seconds(15)) == .seconds(50))
        #expect(InboxMetrics.pause(after: .milliseconds(900), interval: .seconds(15)) == .seconds(45))
    }

    @Test func theGaugesAreNeverLeftStaleForMoreThanTwentyIntervals() {
        #expect(InboxMetrics.pause(after: .seconds(30), interval: .seconds(15)) == .seconds(300))
    }
}
