/// The sealed form of one token version (SECURITY.md, "Table token_versions"):
/// `crypto_secretbox_easy(binding || token, nonce, token_key)` with
/// `binding = vault_id (16) || u64be(token_id) || u32be(version)`.
package enum SealedEntry {
    package static let bindingBytes = 16 + 8 + 4

    /// The bound prefix. Throws unless the token id is positive and the version fits in 32
    /// bits exactly: a version is never reduced modulo 2³² (version 2³²+1 would otherwise open
    /// version 1's box).
    package static func binding(vaultID: [UInt8], tokenID: Int64, version: Int) throws(VaultError) -> [UInt8] {
        precondition(vaultID.count == 16)
        guard tokenID >= 1, version >= 1, let v32 = UInt32(exactly: version) else {
            throw .corruptVault(reason: "token id \(tokenID) or version \(version) is out of range")
        }
        var b = vaultID
        withUnsafeBytes(of: UInt64(tokenID).bigEndian) { b += $0 }
        withUnsafeBytes(of: v32.bigEndian) { b += $0 }
        return b
    }

    /// Seals `secret` bound to `binding` under `key` with a fresh nonce.
    package static func seal(_ secret: borrowing SecureBytes, binding: [UInt8], key: borrowing SecureBytes) -> (nonce: [UInt8], ciphertext: [UInt8]) {
        var plain = SecureBytes(capacity: binding.count + secret.count, empty: true)
        binding.withUnsafeBytes { plain.append($0) }
        plain.append(secret)
        return SecretBox.seal(plain, key: key)
    }

    /// Opens into `scratch` and returns the range of the token bytes within it; nil unless it
    /// authenticates and its bound prefix equals `binding`.
    package static func open(ciphertext: [UInt8], nonce: [UInt8], binding: [UInt8], key: borrowing SecureBytes, into scratch: inout SecureBytes) -> Range<Int>? {
        guard SecretBox.open(ciphertext: ciphertext, nonce: nonce, key: key, into: &scratch), scratch.count > binding.count else {
            scratch.reset()
            return nil
        }
        let bound = scratch.withUnsafeBytes { p in
            binding.withUnsafeBytes { Sodium.constantTimeEqual(UnsafeRawBufferPointer(rebasing: p[0..<binding.count]), $0) }
        }
        guard bound else { scratch.reset(); return nil }
        return binding.count..<scratch.count
    }

    /// Seals `binding || token` built in `scratch` (reused across calls).
    package static func seal(_ token: UnsafeRawBufferPointer, binding: [UInt8], key: borrowing SecureBytes, scratch: inout SecureBytes) -> (nonce: [UInt8], ciphertext: [UInt8]) {
        if scratch.capacity < binding.count + token.count { scratch = SecureBytes(capacity: binding.count + token.count, empty: true) }
        scratch.reset()
        binding.withUnsafeBytes { scratch.append($0) }
        scratch.append(token)
        defer { scratch.reset() }
        return SecretBox.seal(scratch, key: key)
    }

    /// Opens a sealed entry into a new buffer holding just the token; nil unless it
    /// authenticates, is longer than the binding, and its bound prefix equals `binding`.
    package static func open(ciphertext: [UInt8], nonce: [UInt8], binding: [UInt8], key: borrowing SecureBytes) -> SecureBytes? {
        var scratch = SecureBytes(capacity: max(ciphertext.count - SecretBox.macBytes, 0), empty: true)
        guard let range = open(ciphertext: ciphertext, nonce: nonce, binding: binding, key: key, into: &scratch) else { return nil }
        return scratch.withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[range])) }
    }
}
