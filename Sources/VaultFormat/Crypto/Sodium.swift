import CSodium
import Foundation

/// One-time libsodium initialisation and small helpers. This folder and Age/ (the age file
/// format) are the only Swift code in VaultFormat that imports CSodium.
package enum Sodium {
    /// `sodium_init()` runs exactly once, the first time this is touched.
    package static let ready: Void = {
        guard sodium_init() >= 0 else { fatalError("libsodium failed to initialise") }
    }()

    /// `count` random bytes from the OS CSPRNG (not secret: salts, nonces, ids).
    package static func randomBytes(_ count: Int) -> [UInt8] {
        _ = ready
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return out
    }

    /// Constant-time comparison of two equal-length byte sequences.
    package static func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 { return true }
        return sodium_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
    }
}
