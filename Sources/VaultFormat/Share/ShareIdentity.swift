import CSodium
import Foundation

/// A vault's sharing identity (schema 6): an X25519 key pair — its age recipient, to which
/// other vaults encrypt drops — and an Ed25519 key pair that signs the transfer documents it
/// writes. Both secrets live in secure memory; the row stores them sealed under the share key.
package struct ShareIdentity: ~Copyable {
    /// The X25519 secret scalar (32 bytes, as age's identities hold it).
    package let ageSecret: SecureBytes
    /// libsodium's Ed25519 secret key: seed (32) || public key (32).
    package let signingSecret: SecureBytes
    package let agePublic: [UInt8]
    package let signingPublic: [UInt8]

    /// What the box holds: vault_id (16) || X25519 secret (32) || Ed25519 seed (32).
    package static let sealedPlaintextBytes = 16 + 32 + 32

    /// The identity of a given X25519 secret (32 bytes) and Ed25519 seed (32 bytes): derives both
    /// public keys. `generate()` and `open` use it; the known-answer tests give it fixed bytes.
    package init(ageSecret: consuming SecureBytes, seed: borrowing SecureBytes) {
        _ = Sodium.ready
        var pub = [UInt8](repeating: 0, count: 32)
        _ = ageSecret.withUnsafeBytes { s in crypto_scalarmult_base(&pub, s.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        var signingPub = [UInt8](repeating: 0, count: 32)
        var sk = SecureBytes(capacity: 64)
        sk.withUnsafeMutableBytes { k in
            seed.withUnsafeBytes { s in
                _ = crypto_sign_seed_keypair(&signingPub, k.baseAddress!.assumingMemoryBound(to: UInt8.self), s.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        self.ageSecret = ageSecret
        self.signingSecret = sk
        self.agePublic = pub
        self.signingPublic = signingPub
    }

    /// A new random identity.
    package static func generate() -> ShareIdentity {
        _ = Sodium.ready
        var secret = SecureBytes(capacity: 32)
        secret.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, 32) }
        var seed = SecureBytes(capacity: 32)
        seed.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, 32) }
        return ShareIdentity(ageSecret: secret, seed: seed)
    }

    /// Seals the secrets for the `vault_identity` row under `key` (the share key).
    package func seal(vaultID: [UInt8], key: borrowing SecureBytes) -> (nonce: [UInt8], sealed: [UInt8]) {
        var m = SecureBytes(capacity: Self.sealedPlaintextBytes, empty: true)
        vaultID.withUnsafeBytes { m.append($0) }
        m.append(ageSecret)
        signingSecret.withUnsafeBytes { m.append(UnsafeRawBufferPointer(rebasing: $0[0..<32])) }
        let (nonce, sealed) = SecretBox.seal(m, key: key)
        return (nonce, sealed)
    }

    /// Opens a `vault_identity` row: the box must open under `key`, start with this vault's id,
    /// and yield exactly the public keys the row shows. Nil otherwise (tampered or another vault's).
    package static func open(_ row: IdentityRow, vaultID: [UInt8], key: borrowing SecureBytes) -> ShareIdentity? {
        guard row.sealed.count == sealedPlaintextBytes + SecretBox.macBytes, row.nonce.count == SecretBox.nonceBytes,
              row.agePublic.count == 32, row.signingPublic.count == 32,
              let m = SecretBox.open(ciphertext: Array(row.sealed), nonce: Array(row.nonce), key: key),
              m.count == sealedPlaintextBytes else { return nil }
        let idOK = m.withUnsafeBytes { p in vaultID.withUnsafeBytes { Sodium.constantTimeEqual(UnsafeRawBufferPointer(rebasing: p[0..<16]), $0) } }
        guard idOK else { return nil }
        let secret = m.withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[16..<48])) }
        let seed = m.withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[48..<80])) }
        let identity = ShareIdentity(ageSecret: secret, seed: seed)
        guard identity.agePublic == Array(row.agePublic), identity.signingPublic == Array(row.signingPublic) else { return nil }
        return identity
    }

    /// The detached Ed25519 signature (64 bytes) over `message`.
    package func sign(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        var sig = [UInt8](repeating: 0, count: 64)
        _ = signingSecret.withUnsafeBytes { k in
            crypto_sign_detached(&sig, nil, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
                                 k.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return sig
    }

    /// This identity's age recipient (`age1…`).
    package var recipient: AgeRecipient { AgeRecipient(publicKey: agePublic) }
}

/// Ed25519 signature checks and the text form of signing keys.
public enum SigningKey {
    /// The Bech32 human-readable part of a signing key: `v1vsig1…`.
    public static let hrp = "v1vsig"

    public static func text(_ publicKey: [UInt8]) -> String { Bech32.encode(hrp: hrp, data: publicKey) }

    /// The 32-byte key of a `v1vsig1…` string; nil for anything else (wrong prefix, checksum, length).
    public static func parse(_ text: String) -> [UInt8]? {
        guard let (h, data) = Bech32.decode(text), h == hrp, data.count == 32, text == text.lowercased() else { return nil }
        return data
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` by `publicKey`.
    package static func verify(signature: [UInt8], message: UnsafeRawBufferPointer, publicKey: [UInt8]) -> Bool {
        _ = Sodium.ready
        guard signature.count == 64, publicKey.count == 32 else { return false }
        return crypto_sign_verify_detached(signature, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count), publicKey) == 0
    }
}
