import CSodium

/// HKDF-SHA-256 (RFC 5869) on libsodium's HMAC-SHA-256, which takes keys of any length
/// (libsodium 1.0.18 has no crypto_kdf_hkdf_*). age only ever needs 32 bytes of output,
/// which is one block of HKDF-Expand: T(1) = HMAC(PRK, info || 0x01).
package enum HKDF {
    /// 32 bytes of output keying material, in secure memory; the PRK is wiped before returning.
    package static func sha256(ikm: UnsafeRawBufferPointer, salt: [UInt8], info: String) -> SecureBytes {
        sha256(ikm: ikm, salt: salt, info: Array(info.utf8))
    }

    /// The same with `info` as bytes.
    package static func sha256(ikm: UnsafeRawBufferPointer, salt: [UInt8], info: [UInt8]) -> SecureBytes {
        var prk = SecureBytes(capacity: 32)
        prk.withUnsafeMutableBytes { p in
            salt.withUnsafeBytes { s in hmac(key: s, parts: [ikm], into: p) }
        }
        var okm = SecureBytes(capacity: 32)
        let label = info + [1]
        okm.withUnsafeMutableBytes { o in
            prk.withUnsafeBytes { k in label.withUnsafeBytes { l in hmac(key: k, parts: [l], into: o) } }
        }
        return okm
    }

    /// HMAC-SHA-256 of the concatenated `parts` under `key` (any length), written to `out` (32 bytes).
    package static func hmac(key: UnsafeRawBufferPointer, parts: [UnsafeRawBufferPointer], into out: UnsafeMutableRawBufferPointer) {
        _ = Sodium.ready
        precondition(out.count >= 32)
        var state = crypto_auth_hmacsha256_state()
        var zero: UInt8 = 0
        withUnsafeMutablePointer(to: &zero) { z in
            let k = key.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(z)
            _ = crypto_auth_hmacsha256_init(&state, k, key.count)
            for part in parts where part.count > 0 {
                _ = crypto_auth_hmacsha256_update(&state, part.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(part.count))
            }
            _ = crypto_auth_hmacsha256_final(&state, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        sodium_memzero(&state, MemoryLayout<crypto_auth_hmacsha256_state>.size)
    }
}
