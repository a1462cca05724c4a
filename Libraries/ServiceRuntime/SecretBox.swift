@preconcurrency import Crypto
import Foundation

/// Encrypts secrets at rest (the gateway's source secrets, notifications' endpoint signing
/// secrets) with AES-256-GCM under a key from `TALLY_SECRETS_KEY` (32 bytes, base64). The sealed
/// box carries its nonce and tag; opening fails on any tampering.
public struct SecretBox: Sendable {
    private let key: SymmetricKey

    public init(key: SymmetricKey) { self.key = key }

    /// Reads `TALLY_SECRETS_KEY`. Outside production a fixed development key is used when it is
    /// unset; production refuses to start without a real one.
    public init(environment: EnvironmentReader, deployment: DeploymentEnvironment) throws(ConfigurationError) {
        guard let encoded = environment.optional("TALLY_SECRETS_KEY") else {
            guard deployment != .prod else { throw .missing(variable: "TALLY_SECRETS_KEY") }
            self.init(key: SymmetricKey(data: SHA256.hash(data: Data("tally-local-development-secrets-key".utf8))))
            return
        }
        guard let raw = Data(base64Encoded: encoded), raw.count == 32 else {
            throw .invalid(variable: "TALLY_SECRETS_KEY", reason: "expected 32 bytes, base64-encoded")
        }
        self.init(key: SymmetricKey(data: raw))
    }

    public func seal(_ secret: String) throws -> [UInt8] {
        guard let combined = try AES.GCM.seal(Data(secret.utf8), using: key).combined else {
            throw SecretBoxError.sealFailed
        }
        return Array(combined)
    }

    public func open(_ sealed: [UInt8]) throws -> String {
        let box = try AES.GCM.SealedBox(combined: Data(sealed))
        return String(decoding: try AES.GCM.open(box, using: key), as: UTF8.self)
    }

    public enum SecretBoxError: Error { case sealFailed }
}
