import Foundation
import Histogram
import NIOCore
import NIOPosix
import Storage
import Synchronization

/// How requests arrive.
enum Arrival: Sendable, Equatable {
    /// Open model: request `n` is due at `start + n / rate`, whether or not earlier answers came
    /// back. Latency counts from that due time, so a stalled server (or a slow generator) shows up
    /// as latency instead of silently lowering the offered load.
    case fixedRate(perSecond: Double)
    /// Closed model: every connection sends its next request as soon as the previous one was
    /// answered. This measures the most the system accepts at that concurrency.
    case asFastAsPossible
}

/// What one run does.
struct LoadPlan: Sendable {
    var arrival: Arrival
    var warmup: Duration
    var duration: Duration
    var connections: Int
    /// Share (0…1) of requests that repeat an event id sent earlier, as providers' retries do.
    var duplicateShare: Double
    var timeout: TimeAmount
}

/// One request to make: which event, and when it was due (nanoseconds on the monotonic clock).
struct Ticket: Sendable {
    let eventNumber: Int
    let isDuplicate: Bool
    let due: UInt64
    let measured: Bool
}

/// What a run observed; only requests due inside the measured window (after the warm-up) count.
struct LoadResult: Sendable {
    var latencyMicros = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    var statuses: [Int: Int] = [:]
    var failures: [BenchFailure: Int] = [:]
    var accepted = 0
    var acceptedDuplicates = 0
    var measuredSeconds = 0.0
    var offered = 0
    /// When the last accepted answer to a measured request came (monotonic nanoseconds).
    var lastAnswer: UInt64 = 0

    var attempted: Int { statuses.values.reduce(0, +) + failures.values.reduce(0, +) }
    var acceptedPerSecond: Double { measuredSeconds > 0 ? Double(accepted) / measuredSeconds : 0 }

    /// Errors by kind: `http 503`, `timeout`, `connection closed`, `connect`.
    var errors: [String: Int] {
        var errors: [String: Int] = [:]
        for (status, count) in statuses where !(200..<300).contains(status) { errors["http \(status)"] = count }
        for (failure, count) in failures { errors[failure.description] = count }
        return errors
    }

    mutating func add(_ other: LoadResult) {
        latencyMicros.add(other.latencyMicros)
        statuses.merge(other.statuses, uniquingKeysWith: +)
        failures.merge(other.failures, uniquingKeysWith: +)
        accepted += other.accepted
        acceptedDuplicates += other.acceptedDuplicates
        lastAnswer = max(lastAnswer, other.lastAnswer)
    }

    func millis(atPercentile percentile: Double) -> Double {
        Double(latencyMicros.valueAtPercentile(percentile)) / 1000
    }
}

/// Sends signed webhooks to the gateway according to a `LoadPlan` and measures the answers.
struct LoadGenerator: Sendable {
    let host: String
    let port: Int
    let path: String
    let webhooks: StripeShapedWebhooks
    let plan: LoadPlan

    func run() async throws -> LoadResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let result = try await run(on: group)
            try await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private func run(on group: any EventLoopGroup) async throws -> LoadResult {
        let start = DispatchTime.now().uptimeNanoseconds
        let measureFrom = start + UInt64(plan.warmup.totalNanoseconds)
        let end = measureFrom + UInt64(plan.duration.totalNanoseconds)
        let tickets = TicketSource(arrival: plan.arrival, start: start, measureFrom: measureFrom, end: end, duplicateShare: plan.duplicateShare)

        var total = try await withThrowingTaskGroup(of: LoadResult.self) { workers in
            for _ in 0..<plan.connections {
                workers.addTask { await work(tickets: tickets, group: group) }
            }
            if case .fixedRate(let rate) = plan.arrival {
                await tickets.dispatch(rate: rate)
            }
            var total = LoadResult()
            for try await result in workers { total.add(result) }
            return total
        }
        // Accepted per second counts until the last measured answer: a backlog that drains after
        // the window lowers the rate instead of hiding in it.
        let answering = total.lastAnswer > measureFrom ? total.lastAnswer - measureFrom : 0
        total.measuredSeconds = Double(max(UInt64(plan.duration.totalNanoseconds), answering)) / 1e9
        total.offered = tickets.measuredCount
        return total
    }

    private func work(tickets: TicketSource, group: any EventLoopGroup) async -> LoadResult {
        var result = LoadResult()
        var connection: BenchConnection?
        while let ticket = await tickets.next() {
            let outcome: Result<Int, BenchFailure>
            do throws(BenchFailure) {
                if connection?.isOpen != true {
                    await connection?.close()
                    connection = try await BenchConnection.open(host: host, port: port, on: group)
                }
                let delivery = webhooks.delivery(eventNumber: ticket.eventNumber, signedAt: Date())
                outcome = .success(try await connection!.post(path: path, headers: delivery.headers, body: delivery.body, timeout: plan.timeout))
            } catch {
                connection = nil
                outcome = .failure(error)
            }
            guard ticket.measured else { continue }
            let answeredAt = DispatchTime.now().uptimeNanoseconds
            switch outcome {
            case .success(let status):
                result.statuses[status, default: 0] += 1
                if (200..<300).contains(status) {
                    result.accepted += 1
                    result.lastAnswer = max(result.lastAnswer, answeredAt)
                    if ticket.isDuplicate { result.acceptedDuplicates += 1 }
                    _ = result.latencyMicros.record(max(1, (answeredAt &- ticket.due) / 1000))
                }
            case .failure(let failure):
                result.failures[failure, default: 0] += 1
            }
        }
        await connection?.close()
        return result
    }
}

/// Hands out tickets: on schedule (open model) or on demand until the end (closed model).
/// Event numbers are assigned here, so every unique id is sent exactly once before any
/// duplicate of it, and duplicates repeat ids already sent.
final class TicketSource: Sendable {
    private struct State {
        var queue: [Ticket] = []
        var head = 0
        var waiters: [CheckedContinuation<Ticket?, Never>] = []
        var finished = false
        var uniqueSent = 0
        var measured = 0
        var random = SystemRandomNumberGenerator()
    }

    private let arrival: Arrival
    private let start: UInt64
    private let measureFrom: UInt64
    private let end: UInt64
    private let duplicateShare: Double
    private let state = Mutex(State())

    init(arrival: Arrival, start: UInt64, measureFrom: UInt64, end: UInt64, duplicateShare: Double) {
        self.arrival = arrival
        self.start = start
        self.measureFrom = measureFrom
        self.end = end
        self.duplicateShare = duplicateShare
    }

    /// How many tickets were due inside the measured window.
    var measuredCount: Int { state.withLock { $0.measured } }

    /// The next ticket; nil once the run is over.
    func next() async -> Ticket? {
        if arrival == .asFastAsPossible {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < end else { return nil }
            return state.withLock { makeTicket(due: now, in: &$0) }
        }
        return await withCheckedContinuation { continuation in
            let ready: Ticket?? = state.withLock { state in
                if state.head < state.queue.count {
                    defer { state.head += 1 }
                    return .some(state.queue[state.head])
                }
                if state.finished { return .some(nil) }
                state.waiters.append(continuation)
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Releases tickets at `rate` per second until the end, waking every millisecond to release
    /// all that fell due; then tells waiting workers that the run is over.
    func dispatch(rate: Double) async {
        let interval = 1e9 / rate
        var released = 0
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            var handOver: [(CheckedContinuation<Ticket?, Never>, Ticket)] = []
            let done: Bool = state.withLock { state in
                while true {
                    let due = start + UInt64(Double(released) * interval)
                    guard due <= now, due < end else { break }
                    released += 1
                    let ticket = makeTicket(due: due, in: &state)
                    if !state.waiters.isEmpty {
                        handOver.append((state.waiters.removeFirst(), ticket))
                    } else {
                        state.queue.append(ticket)
                    }
                }
                if state.head > 4096 {
                    state.queue.removeFirst(state.head)
                    state.head = 0
                }
                return start + UInt64(Double(released) * interval) >= end
            }
            for (waiter, ticket) in handOver { waiter.resume(returning: ticket) }
            if done { break }
            try? await Task.sleep(for: .milliseconds(1))
        }
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    private func makeTicket(due: UInt64, in state: inout State) -> Ticket {
        let measured = due >= measureFrom
        if measured { state.measured += 1 }
        if state.uniqueSent > 0, Double.random(in: 0..<1, using: &state.random) < duplicateShare {
            let earlier = Int.random(in: 0..<state.uniqueSent, using: &state.random)
            return Ticket(eventNumber: earlier, isDuplicate: true, due: due, measured: measured)
        }
        defer { state.uniqueSent += 1 }
        return Ticket(eventNumber: state.uniqueSent, isDuplicate: false, due: due, measured: measured)
    }
}
