import CSodium

/// The vault's 32-byte master key and the subkeys derived from it.
///
/// passphrase ─Argon2id(salt, ops, mem)→ KEK ─secretbox open→ vault_id ‖ master key
/// master key ─crypto_kdf_derive_from_key(1, "V1VTOKEN")→ token-sealing key
/// master key ─crypto_kdf_derive_from_key(1, "V1VAUDIT")→ audit-chain key
/// master key ─crypto_kdf_derive_from_key(1, "V1VMETA_")→ token-metadata MAC key
/// master key ─crypto_kdf_derive_from_key(1, "V1VAKEYS")→ key sealing earlier audit keys (rekey)
/// master key ─crypto_kdf_derive_from_key(1, "V1VSHARE")→ key sealing the sharing identity (schema 6)
public struct MasterKey: ~Copyable {
    package static let bytes = 32
    package static let tokenContext = "V1VTOKEN"
    package static let auditContext = "V1VAUDIT"
    package static let metadataContext = "V1VMETA_"
    package static let archiveContext = "V1VAKEYS"
    package static let shareContext = "V1VSHARE"

    package let key: SecureBytes

    package init(key: consuming SecureBytes) {
        precondition(key.count == Self.bytes)
        self.key = key
    }

    /// A fresh random master key (`crypto_kdf_keygen`).
    package static func generate() -> MasterKey {
        _ = Sodium.ready
        var k = SecureBytes(capacity: bytes)
        k.withUnsafeMutableBytes { crypto_kdf_keygen($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        return MasterKey(key: k)
    }

    /// `crypto_kdf_derive_from_key(32, subkeyID, context, masterKey)`.
    package func subkey(context: String, id: UInt64 = 1) -> SecureBytes {
        let ctx = Array(context.utf8)
        precondition(ctx.count == Int(crypto_kdf_CONTEXTBYTES))
        var out = SecureBytes(capacity: 32)
        let rc = out.withUnsafeMutableBytes { o in
            key.withUnsafeBytes { k in
                ctx.withUnsafeBufferPointer { c in
                    c.withMemoryRebound(to: CChar.self) { cc in
                        crypto_kdf_derive_from_key(
                            o.baseAddress!.assumingMemoryBound(to: UInt8.self), 32, id, cc.baseAddress!,
                            k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        precondition(rc == 0)
        return out
    }

    /// Seals vault_id ‖ master key under the KEK (the "wrapped key" of the header).
    package func wrap(vaultID: [UInt8], kek: borrowing SecureBytes) -> (nonce: [UInt8], ciphertext: [UInt8]) {
        var plain = SecureBytes(capacity: vaultID.count + Self.bytes, empty: true)
        vaultID.withUnsafeBytes { plain.append($0) }
        plain.append(key)
        return SecretBox.seal(plain, key: kek)
    }

    /// Opens the wrapped key; nil when the KEK is wrong or the header was modified.
    package static func unwrap(nonce: [UInt8], ciphertext: [UInt8], vaultID: [UInt8], kek: borrowing SecureBytes) -> MasterKey? {
        guard let plain = SecretBox.open(ciphertext: ciphertext, nonce: nonce, key: kek),
              plain.count == vaultID.count + bytes else { return nil }
        let idMatches = plain.withUnsafeBytes { p in
            vaultID.withUnsafeBytes { Sodium.constantTimeEqual(UnsafeRawBufferPointer(rebasing: p[0..<vaultID.count]), $0) }
        }
        guard idMatches else { return nil }
        let key = plain.withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[vaultID.count...])) }
        return MasterKey(key: key)
    }
}
