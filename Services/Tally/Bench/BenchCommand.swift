import ArgumentParser
import Foundation
import NIOCore

/// `tally bench`: the gateway's load generator. It prints numbers; `ops/bench/ingest.py` runs it
/// in phases next to the pgbench reference and writes the comparison.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Send signed Stripe-shaped webhooks to the ingest gateway and report rate, latency and errors.",
        discussion: """
            With --rate the arrival rate is fixed (open model): latency counts from each request's \
            due time. With --rate 0 every connection sends as fast as answers come back (closed model), \
            which measures the most the gateway accepts at that concurrency.
            """
    )

    @Option(help: "The gateway's base URL.")
    var gateway = "http://127.0.0.1:8081"

    @Option(help: "The Stripe source to post to (its id).")
    var source: String?

    @Option(help: "The source's signing secret (default: $TALLY_BENCH_SECRET).")
    var secret: String = ProcessInfo.processInfo.environment["TALLY_BENCH_SECRET"] ?? ""

    @Option(help: "Requests per second offered; 0 sends as fast as answers arrive.")
    var rate: Double = 2_000

    @Option(help: "Seconds measured, after the warm-up.")
    var duration: Double = 30

    @Option(help: "Seconds of the same load before measuring.")
    var warmup: Double = 5

    @Option(help: "Connections (each carries one request at a time).")
    var connections = 64

    @Option(help: "Share of requests that repeat an earlier event id (0…1).")
    var duplicates = 0.10

    @Option(help: "Seconds before an unanswered request counts as a timeout.")
    var timeout: Int64 = 10

    @Option(help: "Tag of this run's event ids (default: random).")
    var runID = String(UInt64.random(in: 0..<UInt64.max), radix: 36)

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    @Flag(help: "Print one body as the generator sends it (for a reference workload) and exit.")
    var printSampleBody = false

    func validate() throws {
        if printSampleBody { return }
        guard source?.isEmpty == false else { throw ValidationError("--source is required") }
        guard !secret.isEmpty else { throw ValidationError("--secret (or TALLY_BENCH_SECRET) is required") }
        guard rate >= 0, duration > 0, warmup >= 0, connections > 0, (0...1).contains(duplicates) else {
            throw ValidationError("--rate, --warmup must be ≥ 0; --duration, --connections > 0; --duplicates within 0…1")
        }
        guard let url = URL(string: gateway), url.scheme == "http", url.host != nil else {
            throw ValidationError("--gateway must be an http:// URL")
        }
    }

    func run() async throws {
        if printSampleBody {
            print(StripeShapedWebhooks(runID: runID, secret: "").body(eventNumber: 12_345))
            return
        }
        let url = URL(string: gateway)!
        let plan = LoadPlan(
            arrival: rate > 0 ? .fixedRate(perSecond: rate) : .asFastAsPossible,
            warmup: .milliseconds(Int64(warmup * 1000)), duration: .milliseconds(Int64(duration * 1000)),
            connections: connections, duplicateShare: duplicates, timeout: .seconds(timeout))
        let generator = LoadGenerator(
            host: url.host!, port: url.port ?? 80, path: "/webhooks/\(source!)",
            webhooks: StripeShapedWebhooks(runID: runID, secret: secret), plan: plan)
        let result = try await generator.run()
        json ? printJSON(result) : printTable(result)
    }

    private var offeredDescription: String { rate > 0 ? String(format: "%.0f/s (open model)", rate) : "as fast as answered (closed model)" }

    private func printTable(_ result: LoadResult) {
        print("tally bench: \(offeredDescription), \(connections) connections, \(Int(duplicates * 100))% duplicates, warm-up \(warmup)s, measured \(duration)s, run \(runID)")
        print(String(format: "  accepted   %d of %d due (%.0f/s), %d of them duplicates", result.accepted, result.offered, result.acceptedPerSecond, result.acceptedDuplicates))
        print(
            String(
                format: "  latency    p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms", result.millis(atPercentile: 50),
                result.millis(atPercentile: 95), result.millis(atPercentile: 99), Double(result.latencyMicros.max) / 1000))
        let errors = result.errors
        print("  errors     " + (errors.isEmpty ? "none" : errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")))
    }

    private func printJSON(_ result: LoadResult) {
        let object: [String: Any] = [
            "run_id": runID, "rate": rate, "connections": connections, "duplicates": duplicates,
            "warmup_s": warmup, "duration_s": duration,
            "due": result.offered, "accepted": result.accepted, "accepted_duplicates": result.acceptedDuplicates,
            "accepted_per_s": result.acceptedPerSecond,
            "p50_ms": result.millis(atPercentile: 50), "p95_ms": result.millis(atPercentile: 95),
            "p99_ms": result.millis(atPercentile: 99), "max_ms": Double(result.latencyMicros.max) / 1000,
            "errors": result.errors,
        ]
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
