import CSodium
import Foundation

/// Argon2id parameters for deriving the key-encryption key from the passphrase.
public struct KDFParameters: Equatable, Sendable, Codable {
    /// `crypto_pwhash` opslimit (Argon2 passes).
    public var opsLimit: UInt64
    /// `crypto_pwhash` memlimit in bytes.
    public var memLimit: UInt64

    public init(opsLimit: UInt64, memLimit: UInt64) {
        self.opsLimit = opsLimit
        self.memLimit = memLimit
    }

    /// libsodium's MODERATE preset: 256 MiB, 3 passes. The default for new vaults.
    public static var moderate: KDFParameters {
        _ = Sodium.ready
        return KDFParameters(opsLimit: UInt64(crypto_pwhash_opslimit_moderate()), memLimit: UInt64(crypto_pwhash_memlimit_moderate()))
    }

    /// libsodium's INTERACTIVE preset: 64 MiB, 2 passes. Below this `init` warns.
    public static var interactive: KDFParameters {
        _ = Sodium.ready
        return KDFParameters(opsLimit: UInt64(crypto_pwhash_opslimit_interactive()), memLimit: UInt64(crypto_pwhash_memlimit_interactive()))
    }

    // MARK: - Bounds (SECURITY.md, "KDF parameter bounds")

    public static let minOps: UInt64 = 1
    public static let maxOps: UInt64 = 256
    public static let minMem: UInt64 = 8 * 1024            // crypto_pwhash_argon2id_MEMLIMIT_MIN
    public static let maxMem: UInt64 = 4 * 1024 * 1024 * 1024
    /// ops × memory must not exceed 64 passes over 256 MiB (16 GiB of Argon2 work), so a
    /// tampered header cannot make an unlock run for minutes.
    public static let maxWork: UInt64 = 64 * 256 * 1024 * 1024

    /// Throws `unsafeKDFParameters` unless the parameters are within the documented bounds.
    /// Called before any KDF work at unlock, and when creating or re-keying a vault.
    public func validate() throws(VaultError) {
        guard (Self.minOps...Self.maxOps).contains(opsLimit) else {
            throw .unsafeKDFParameters(reason: "ops \(opsLimit) outside \(Self.minOps)...\(Self.maxOps)")
        }
        guard (Self.minMem...Self.maxMem).contains(memLimit) else {
            throw .unsafeKDFParameters(reason: "memory \(ByteSize.format(memLimit)) outside 8K...4G")
        }
        guard memLimit % 1024 == 0 else {
            throw .unsafeKDFParameters(reason: "memory \(memLimit) is not a multiple of 1 KiB")
        }
        guard opsLimit.multipliedReportingOverflow(by: memLimit).partialValue <= Self.maxWork else {
            throw .unsafeKDFParameters(reason: "ops × memory exceeds 64 × 256 MiB")
        }
    }

    /// True when weaker than libsodium's INTERACTIVE preset in either dimension.
    public var isBelowInteractive: Bool {
        let i = Self.interactive
        return opsLimit < i.opsLimit || memLimit < i.memLimit
    }
}

/// Argon2id13 key derivation (`crypto_pwhash` with `crypto_pwhash_ALG_ARGON2ID13`).
package enum KDF {
    package static let saltBytes = Int(crypto_pwhash_SALTBYTES)  // 16
    package static let keyBytes = 32

    /// Derives the 32-byte key-encryption key. Parameters must already be validated.
    package static func deriveKEK(passphrase: borrowing SecureBytes, salt: [UInt8], parameters: KDFParameters) throws(VaultError) -> SecureBytes {
        _ = Sodium.ready
        precondition(salt.count == saltBytes)
        try parameters.validate()
        var kek = SecureBytes(capacity: keyBytes)
        let rc = kek.withUnsafeMutableBytes { out in
            passphrase.withUnsafeBytes { pw in
                salt.withUnsafeBytes { s in
                    crypto_pwhash(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(keyBytes),
                        pw.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(pw.count),
                        s.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        parameters.opsLimit, Int(parameters.memLimit),
                        crypto_pwhash_ALG_ARGON2ID13)
                }
            }
        }
        guard rc == 0 else {
            throw .io(reason: "argon2id failed: could not allocate \(ByteSize.format(parameters.memLimit))")
        }
        return kek
    }
}
