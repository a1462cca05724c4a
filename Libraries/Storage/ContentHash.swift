import Contracts
import Crypto
import Foundation

/// The SHA-256 of some bytes as lowercase hex: how Tally fingerprints migrations and webhook bodies.
public enum ContentHash {
    public static func sha256Hex(_ bytes: some DataProtocol) -> String {
        SHA256.hash(data: bytes).lowercaseHex
    }

    /// The SHA-256 of some bytes.
    public static func sha256(_ bytes: some DataProtocol) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }
}
