import Foundation

/// `ops/e2e/support/smtp_sink.py` (a real SMTP server on aiosmtpd, installed by
/// `make bootstrap`) as a subprocess of one test: on a free port of 127.0.0.1, in a temporary
/// directory of its own, killed and removed by `stop()`.
final class SMTPSink: @unchecked Sendable {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let script = repository.appendingPathComponent("ops/e2e/support/smtp_sink.py").path
    static var python: String { ProcessInfo.processInfo.environment["TALLY_PYTHON"] ?? "python3" }

    /// One line of the sink's `log.jsonl`.
    struct LogEntry: Decodable, Equatable {
        let messageID: String
        let to: [String]
        let subject: String
        let tls: Bool
        let authenticated: Bool

        enum CodingKeys: String, CodingKey {
            case messageID = "message_id", to, subject, tls, authenticated
        }
    }

    struct StartFailure: Error, CustomStringConvertible {
        let description: String
    }

    let port: Int
    let directory: URL
    var maildir: URL { directory.appendingPathComponent("maildir") }
    private let process: Process
    private let log: FileHandle

    private init(port: Int, directory: URL, process: Process, log: FileHandle) {
        self.port = port
        self.directory = directory
        self.process = process
        self.log = log
    }

    /// Starts the sink with `arguments` (e.g. `["--mode", "flaky", "--fail-first", "1"]`) and
    /// returns once it listens (it has written its port to the ready file).
    static func start(_ arguments: [String] = [], directory: URL? = nil) async throws -> SMTPSink {
        let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("tally-smtp-sink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ready = directory.appendingPathComponent("ready")
        let logFile = directory.appendingPathComponent("sink.log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: logFile)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [python, script, "--port", "0", "--maildir", directory.appendingPathComponent("maildir").path, "--ready-file", ready.path] + arguments
        process.standardOutput = log
        process.standardError = log
        try process.run()

        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, process.isRunning {
            if let text = try? String(contentsOf: ready, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return SMTPSink(port: port, directory: directory, process: process, log: log)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let sink = SMTPSink(port: 0, directory: directory, process: process, log: log)
        let output = sink.output
        sink.stop()
        throw StartFailure(
            description: "smtp_sink.py \(arguments.joined(separator: " ")) did not start (is aiosmtpd installed? run make bootstrap): \(output.suffix(1500))")
    }

    /// Kills the sink (SIGKILL: a child started from a Swift thread may have SIGTERM blocked),
    /// waits for it and removes its directory.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? log.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// What the sink wrote to stdout and stderr so far, for failure messages.
    var output: String {
        (try? String(contentsOf: directory.appendingPathComponent("sink.log"), encoding: .utf8)) ?? ""
    }

    /// The raw bytes of every message in the Maildir's `new/`, oldest first.
    func receivedMessages() throws -> [[UInt8]] {
        let folder = maildir.appendingPathComponent("new")
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: [.contentModificationDateKey])
        let dated = try files.map { file in
            (file, try file.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate ?? .distantPast)
        }
        return try dated.sorted { $0.1 < $1.1 }.map { try Array(Data(contentsOf: $0.0)) }
    }

    /// The entries of `log.jsonl`, one per accepted message.
    func logEntries() throws -> [LogEntry] {
        let file = maildir.appendingPathComponent("log.jsonl")
        guard FileManager.default.fileExists(atPath: file.path) else { return [] }
        let text = try String(contentsOf: file, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(LogEntry.self, from: Data($0.utf8)) }
    }

    /// Runs `body` with a sink started with `arguments`, and stops the sink afterwards.
    static func with<T>(_ arguments: [String] = [], _ body: (SMTPSink) async throws -> T) async throws -> T {
        let sink = try await start(arguments)
        defer { sink.stop() }
        return try await body(sink)
    }
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, made with `openssl req` for one test.
enum TestCertificate {
    struct Files {
        let certificate: String
        let key: String
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Writes `cert.pem` and `key.pem` into `directory`. The subject alternative names let the
    /// client verify either name: NIOSSL checks an IP literal against the certificate's IPs.
    static func make(in directory: URL) throws -> Files {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let files = Files(certificate: directory.appendingPathComponent("cert.pem").path, key: directory.appendingPathComponent("key.pem").path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", files.key, "-out", files.certificate,
        ]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure(description: "openssl req exited \(process.terminationStatus): \(errorText)") }
        return files
    }
}
