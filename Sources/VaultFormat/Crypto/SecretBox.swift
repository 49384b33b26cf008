import CSodium

/// `crypto_secretbox_easy` (XSalsa20-Poly1305) with a 32-byte key held in secure memory.
package enum SecretBox {
    package static let keyBytes = Int(crypto_secretbox_KEYBYTES)      // 32
    package static let nonceBytes = Int(crypto_secretbox_NONCEBYTES)  // 24
    package static let macBytes = Int(crypto_secretbox_MACBYTES)      // 16

    /// Seals `plaintext` under `key` with a fresh random nonce. Returns (nonce, ciphertext‖… as
    /// produced by crypto_secretbox_easy: 16-byte MAC followed by the encrypted bytes).
    package static func seal(_ plaintext: borrowing SecureBytes, key: borrowing SecureBytes) -> (nonce: [UInt8], ciphertext: [UInt8]) {
        precondition(key.count == keyBytes)
        let nonce = Sodium.randomBytes(nonceBytes)
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + macBytes)
        let rc = ciphertext.withUnsafeMutableBufferPointer { c in
            plaintext.withUnsafeBytes { m in
                key.withUnsafeBytes { k in
                    nonce.withUnsafeBufferPointer { n in
                        crypto_secretbox_easy(
                            c.baseAddress!, m.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(m.count),
                            n.baseAddress!, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        precondition(rc == 0, "crypto_secretbox_easy failed")
        return (nonce, ciphertext)
    }

    /// Opens a box into a new buffer; nil when authentication fails (wrong key, modified bytes).
    package static func open(ciphertext: [UInt8], nonce: [UInt8], key: borrowing SecureBytes) -> SecureBytes? {
        var plaintext = SecureBytes(capacity: max(ciphertext.count - macBytes, 0), empty: true)
        guard open(ciphertext: ciphertext, nonce: nonce, key: key, into: &plaintext) else { return nil }
        return plaintext
    }
}

extension SecretBox {
    /// Opens a box into `scratch` (reused across calls: grown if too small, reset first).
    /// Returns false when authentication fails; `scratch` then holds nothing.
    package static func open(ciphertext: [UInt8], nonce: [UInt8], key: borrowing SecureBytes, into scratch: inout SecureBytes) -> Bool {
        guard nonce.count == nonceBytes, ciphertext.count >= macBytes, key.count == keyBytes else { return false }
        let needed = ciphertext.count - macBytes
        if scratch.capacity < needed { scratch = SecureBytes(capacity: max(needed, scratch.capacity * 2), empty: true) }
        scratch.reset()
        let rc = scratch.withUnsafeMutableBytes { m in
            ciphertext.withUnsafeBufferPointer { c in
                key.withUnsafeBytes { k in
                    nonce.withUnsafeBufferPointer { n in
                        crypto_secretbox_open_easy(
                            m.baseAddress!.assumingMemoryBound(to: UInt8.self), c.baseAddress!, UInt64(c.count),
                            n.baseAddress!, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        guard rc == 0 else { return false }
        scratch.setCount(needed)
        return true
    }
}

/// Keyed BLAKE2b-256 (`crypto_generichash` with a 32-byte key), used as the audit-chain MAC.
package enum KeyedHash {
    package static let outputBytes = 32

    /// BLAKE2b-256 keyed with `key` over the concatenation of `parts`.
    package static func mac(key: borrowing SecureBytes, parts: [[UInt8]]) -> [UInt8] {
        _ = Sodium.ready
        let message = parts.flatMap { $0 }
        var out = [UInt8](repeating: 0, count: outputBytes)
        let rc = key.withUnsafeBytes { k in
            crypto_generichash(&out, outputBytes, message, UInt64(message.count),
                               k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count)
        }
        precondition(rc == 0)
        return out
    }
}
