import CSodium

extension SecureBytes {
    /// The standard base64 (with padding) of the contents, in a new secure buffer: what an
    /// OSC 52 clipboard sequence carries. The bytes never pass through a Swift String.
    public func base64() -> SecureBytes {
        _ = Sodium.ready
        let variant = sodium_base64_VARIANT_ORIGINAL
        let encodedLength = sodium_base64_encoded_len(count, variant)  // includes the NUL
        var out = SecureBytes(capacity: encodedLength)
        withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                _ = sodium_bin2base64(dst.baseAddress!.assumingMemoryBound(to: CChar.self), encodedLength,
                                      src.baseAddress?.assumingMemoryBound(to: UInt8.self), src.count, variant)
            }
        }
        out.removeLast(1)  // the NUL
        return out
    }

    /// A keyed BLAKE2b-256 of the contents under a fresh random key: lets a process that must
    /// not hold the secret (the clipboard clearer) recognise it later. Returns key ‖ digest.
    public func fingerprint() -> [UInt8] {
        Self.fingerprint(of: self, key: Sodium.randomBytes(KeyedHash.outputBytes))
    }

    /// The fingerprint of `bytes` under `key` (key ‖ digest), for comparing with `fingerprint()`.
    public static func fingerprint(of bytes: borrowing SecureBytes, key: [UInt8]) -> [UInt8] {
        _ = Sodium.ready
        var digest = [UInt8](repeating: 0, count: KeyedHash.outputBytes)
        let rc = bytes.withUnsafeBytes { b in
            crypto_generichash(&digest, digest.count, b.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(b.count), key, key.count)
        }
        precondition(rc == 0)
        return key + digest
    }
}
