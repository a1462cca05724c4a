import Foundation

/// Runs `provider_signer.py`, which uses the providers' own SDKs (installed by `make bootstrap`).
enum ProviderSDK {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("provider_signer.py").path
    static var available: Bool {
        (try? run(["stripe-sign", "whsec_probe", "1"], body: [])) != nil
    }

    /// The script's standard output; throws when it exits non-zero.
    @discardableResult
    static func run(_ arguments: [String], body: [UInt8]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [ProcessInfo.processInfo.environment["TALLY_PYTHON"] ?? "python3", script] + arguments
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(body))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw SDKFailure(arguments: arguments.first ?? "", status: process.terminationStatus, stderr: errorText)
        }
        return String(decoding: data, as: UTF8.self)
    }

    struct SDKFailure: Error, CustomStringConvertible {
        let arguments: String
        let status: Int32
        let stderr: String
        var description: String { "provider SDK \(arguments) exited \(status): \(stderr.suffix(400))" }
    }
}
