import CSodium

/// An age X25519 recipient: the public half of an identity, written `age1…`.
public struct AgeRecipient: Sendable, Hashable {
    /// The 32-byte X25519 public key.
    public let publicKey: [UInt8]

    /// Parses `age1…` (Bech32, human-readable part "age", 32 bytes of data, either case).
    /// nil for anything else, including a low-order point no file could be encrypted to.
    public init?(_ text: String) {
        guard let (hrp, data) = Bech32.decode(text), hrp == "age", data.count == 32 else { return nil }
        guard Age.isUsablePoint(data) else { return nil }
        publicKey = data
    }

    /// Wraps a public key made by `Age.publicKey(forSecret:)` or read from an `AgeRecipient`.
    public init(publicKey: [UInt8]) {
        precondition(publicKey.count == 32, "an X25519 public key is 32 bytes")
        self.publicKey = publicKey
    }

    /// The recipient as age writes it: `age1…`, lowercase.
    public var text: String { Bech32.encode(hrp: "age", data: publicKey) }
}

/// The age v1 file format (C2SP age, https://c2sp.org/age) with X25519 recipients: what
/// v1vault shares keys in, readable and writable by the reference `age` CLI.
public enum Age {
    static let x25519Label = "age-encryption.org/v1/X25519"
    static let fileKeyBytes = 16
    static let payloadNonceBytes = 16
    static let chunkBytes = 64 * 1024
    static let tagBytes = Int(crypto_aead_chacha20poly1305_ietf_ABYTES)  // 16
    static let encryptedChunkBytes = chunkBytes + tagBytes

    // MARK: - Keys

    /// The X25519 public key of a 32-byte secret (`X25519(secret, basepoint)`).
    public static func publicKey(forSecret secret: borrowing SecureBytes) -> [UInt8] {
        _ = Sodium.ready
        precondition(secret.count == 32, "an X25519 secret is 32 bytes")
        var out = [UInt8](repeating: 0, count: 32)
        let rc = secret.withUnsafeBytes { s in
            crypto_scalarmult_base(&out, s.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        precondition(rc == 0, "crypto_scalarmult_base failed")
        return out
    }

    /// A new identity: 32 bytes from the CSPRNG (X25519 clamps the scalar when it uses it).
    public static func generateIdentity() -> SecureBytes {
        _ = Sodium.ready
        var secret = SecureBytes(capacity: 32)
        secret.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, 32) }
        return secret
    }

    /// `AGE-SECRET-KEY-1…` (uppercase), as `age-keygen` writes it. For tests and interop
    /// fixtures only: the string is ordinary Swift memory.
    package static func identityText(_ secret: borrowing SecureBytes) -> String {
        precondition(secret.count == 32)
        return Bech32.encode(hrp: "age-secret-key-", data: secret.withUnsafeBytes { Array($0) }).uppercased()
    }

    /// Parses `AGE-SECRET-KEY-1…` (32 bytes); nil for anything else. For tests and interop fixtures.
    package static func parseIdentityText(_ text: String) -> SecureBytes? {
        guard let (hrp, data) = Bech32.decode(text), hrp == "age-secret-key-", data.count == 32 else { return nil }
        var secret = SecureBytes(capacity: 32, empty: true)
        data.withUnsafeBytes { secret.append($0) }
        return secret
    }

    /// Whether X25519 with `point` can give a non-zero shared secret (false for the low-order
    /// points, for which libsodium returns -1).
    static func isUsablePoint(_ point: [UInt8]) -> Bool {
        let probe = generateIdentity()
        var shared = SecureBytes(capacity: 32)
        return x25519(&shared, probe, point)
    }

    /// `out = X25519(scalar, point)`; false when the result is all zero (a low-order point).
    private static func x25519(_ out: inout SecureBytes, _ scalar: borrowing SecureBytes, _ point: [UInt8]) -> Bool {
        _ = Sodium.ready
        precondition(point.count == 32 && scalar.count == 32)
        return out.withUnsafeMutableBytes { o in
            scalar.withUnsafeBytes { s in
                crypto_scalarmult(o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                  s.baseAddress!.assumingMemoryBound(to: UInt8.self), point) == 0
            }
        }
    }

    // MARK: - Encrypt

    /// Encrypts to one or more X25519 recipients: a random 16-byte file key wrapped in one
    /// stanza per recipient (each with a fresh ephemeral key), the header MAC, a random
    /// 16-byte payload nonce and STREAM chunks of 64 KiB. Binary, not armored.
    public static func encrypt(_ plaintext: borrowing SecureBytes, to recipients: [AgeRecipient]) -> [UInt8] {
        precondition(!recipients.isEmpty, "age needs at least one recipient")
        let fileKey = generateKey(fileKeyBytes)
        var header = AgeHeader.versionLine
        for recipient in recipients {
            let ephemeral = generateIdentity()
            let share = publicKey(forSecret: ephemeral)
            var shared = SecureBytes(capacity: 32)
            precondition(x25519(&shared, ephemeral, recipient.publicKey), "recipient is a low-order point")
            let wrapKey = shared.withUnsafeBytes { HKDF.sha256(ikm: $0, salt: share + recipient.publicKey, info: x25519Label) }
            let body = fileKey.withUnsafeBytes { seal($0, key: wrapKey, nonce: [UInt8](repeating: 0, count: 12)) }
            appendStanza(&header, args: ["X25519", String(decoding: AgeBase64.encode(share), as: UTF8.self)], body: body)
        }
        header += Array("---".utf8)
        let mac = headerMAC(fileKey: fileKey, header: header[...])
        header += Array(" ".utf8) + AgeBase64.encode(mac) + [UInt8(ascii: "\n")]

        let nonce = Sodium.randomBytes(payloadNonceBytes)
        let payloadKey = fileKey.withUnsafeBytes { HKDF.sha256(ikm: $0, salt: nonce, info: "payload") }
        let chunks = max(1, (plaintext.count + chunkBytes - 1) / chunkBytes)
        var out = header + nonce
        out.reserveCapacity(header.count + nonce.count + plaintext.count + chunks * tagBytes)
        plaintext.withUnsafeBytes { p in
            for i in 0..<chunks {
                let start = i * chunkBytes
                let slice = UnsafeRawBufferPointer(rebasing: p[start..<min(start + chunkBytes, p.count)])
                out += seal(slice, key: payloadKey, nonce: streamNonce(counter: i, last: i == chunks - 1))
            }
        }
        return out
    }

    /// `-> args…` then the body in base64 lines of 64 columns, ended by a shorter (maybe empty) one.
    private static func appendStanza(_ header: inout [UInt8], args: [String], body: [UInt8]) {
        header += Array(("-> " + args.joined(separator: " ") + "\n").utf8)
        let encoded = AgeBase64.encode(body)
        var i = 0
        while true {
            let line = encoded[i..<min(i + AgeHeader.columnsPerLine, encoded.count)]
            header += line + [UInt8(ascii: "\n")]
            i += line.count
            if line.count < AgeHeader.columnsPerLine { break }
        }
    }

    private static func generateKey(_ count: Int) -> SecureBytes {
        _ = Sodium.ready
        var key = SecureBytes(capacity: count)
        key.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return key
    }

    /// ChaCha20-Poly1305 (IETF) of `message`; the ciphertext is not secret.
    private static func seal(_ message: UnsafeRawBufferPointer, key: borrowing SecureBytes, nonce: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: message.count + tagBytes)
        var outLen: UInt64 = 0
        var empty: UInt8 = 0
        let rc = key.withUnsafeBytes { k in
            crypto_aead_chacha20poly1305_ietf_encrypt(
                &out, &outLen, message.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? withUnsafePointer(to: &empty) { $0 },
                UInt64(message.count), nil, 0, nil, nonce, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        precondition(rc == 0 && Int(outLen) == out.count)
        return out
    }

    /// STREAM nonce: an 11-byte big-endian chunk counter, then 0x01 for the final chunk, else 0x00.
    static func streamNonce(counter: Int, last: Bool) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        var c = UInt64(counter)
        for i in stride(from: 10, through: 3, by: -1) { nonce[i] = UInt8(c & 0xff); c >>= 8 }
        nonce[11] = last ? 1 : 0
        return nonce
    }

    /// HMAC-SHA-256 under HKDF(file key, "", "header") over the header through `---`.
    private static func headerMAC(fileKey: borrowing SecureBytes, header: ArraySlice<UInt8>) -> [UInt8] {
        let macKey = fileKey.withUnsafeBytes { HKDF.sha256(ikm: $0, salt: [], info: "header") }
        var mac = [UInt8](repeating: 0, count: 32)
        macKey.withUnsafeBytes { k in
            header.withUnsafeBytes { h in mac.withUnsafeMutableBytes { HKDF.hmac(key: k, parts: [h], into: $0) } }
        }
        return mac
    }

    // MARK: - Decrypt

    /// The header alone, strictly parsed per the spec (binary files; see `AgeHeader.parse`).
    package static func parseHeader(_ file: [UInt8]) throws(AgeError) -> AgeHeader {
        try AgeHeader.parse(file)
    }

    /// Decrypts a binary or ASCII-armored age v1 file with an X25519 identity (its 32-byte
    /// secret). The plaintext is released only when every chunk authenticated, in secure
    /// memory. Throws `.tooLarge` before allocating a plaintext over `maxPlaintext` bytes.
    public static func decrypt(_ file: [UInt8], identity: borrowing SecureBytes, maxPlaintext: Int) throws(AgeError) -> SecureBytes {
        precondition(identity.count == 32, "an X25519 identity is 32 bytes")
        let binary = AgeArmor.isArmored(file) ? try AgeArmor.decode(file) : file
        let header = try AgeHeader.parse(binary)
        let fileKey = try unwrapFileKey(header, identity: identity)

        let mac = headerMAC(fileKey: fileKey, header: binary[..<header.macInputLength])
        let macOK = mac.withUnsafeBytes { a in header.mac.withUnsafeBytes { b in Sodium.constantTimeEqual(a, b) } }
        guard macOK else { throw .headerMACMismatch }

        // The payload: a 16-byte nonce, then chunks of 64 KiB + 16, the last one possibly shorter.
        let payloadStart = header.payloadOffset + payloadNonceBytes
        guard binary.count >= payloadStart else { throw .malformed("payload nonce is truncated") }
        let nonce = Array(binary[header.payloadOffset..<payloadStart])
        let encrypted = binary.count - payloadStart
        guard encrypted > 0 else { throw .payloadDamaged("payload has no chunk") }
        let chunks = (encrypted + encryptedChunkBytes - 1) / encryptedChunkBytes
        let lastBytes = encrypted - (chunks - 1) * encryptedChunkBytes
        guard lastBytes >= tagBytes else { throw .payloadDamaged("final chunk is truncated") }
        guard lastBytes > tagBytes || chunks == 1 else { throw .payloadDamaged("final chunk is empty") }
        let plaintextBytes = encrypted - chunks * tagBytes
        guard plaintextBytes <= maxPlaintext else { throw .tooLarge }

        let payloadKey = fileKey.withUnsafeBytes { HKDF.sha256(ikm: $0, salt: nonce, info: "payload") }
        var plaintext = SecureBytes(capacity: plaintextBytes)
        let failed: Int? = plaintext.withUnsafeMutableBytes { out in
            binary.withUnsafeBytes { all in
                payloadKey.withUnsafeBytes { k in
                    for i in 0..<chunks {
                        let start = payloadStart + i * encryptedChunkBytes
                        let end = min(start + encryptedChunkBytes, binary.count)
                        let n = streamNonce(counter: i, last: i == chunks - 1)
                        var written: UInt64 = 0
                        let rc = crypto_aead_chacha20poly1305_ietf_decrypt(
                            out.baseAddress!.assumingMemoryBound(to: UInt8.self) + i * chunkBytes, &written, nil,
                            all.baseAddress!.assumingMemoryBound(to: UInt8.self) + start, UInt64(end - start),
                            nil, 0, n, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                        if rc != 0 { return i }
                    }
                    return nil
                }
            }
        }
        if let failed {
            throw .payloadDamaged(failed == chunks - 1 ? "final chunk fails authentication" : "chunk fails authentication")
        }
        return plaintext
    }

    /// The file key from the first X25519 stanza this identity opens. X25519 stanzas are
    /// checked strictly (two arguments, a canonical 32-byte share, a 32-byte body, a non-zero
    /// shared secret); other types are skipped, except that an scrypt stanza must be alone.
    private static func unwrapFileKey(_ header: AgeHeader, identity: borrowing SecureBytes) throws(AgeError) -> SecureBytes {
        if header.stanzas.contains(where: { $0.type == "scrypt" }) && header.stanzas.count > 1 {
            throw .malformed("scrypt stanza is not alone")
        }
        let ourPublic = publicKey(forSecret: identity)
        for stanza in header.stanzas where stanza.type == "X25519" {
            guard stanza.args.count == 1, let share = AgeBase64.decode(Array(stanza.args[0].utf8)[...], padded: false),
                  share.count == 32 else {
                throw .malformed("malformed x25519 stanza")
            }
            // Checked before any decryption: a body of another length is a partitioning-oracle probe.
            guard stanza.body.count == fileKeyBytes + tagBytes else { throw .malformed("x25519 stanza body is not 32 bytes") }
            var shared = SecureBytes(capacity: 32)
            guard x25519(&shared, identity, share) else { throw .malformed("x25519 share is a low-order point") }
            let wrapKey = shared.withUnsafeBytes { HKDF.sha256(ikm: $0, salt: share + ourPublic, info: x25519Label) }
            var fileKey = SecureBytes(capacity: fileKeyBytes)
            let opened = fileKey.withUnsafeMutableBytes { out in
                wrapKey.withUnsafeBytes { k in
                    crypto_aead_chacha20poly1305_ietf_decrypt(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), nil, nil, stanza.body, UInt64(stanza.body.count),
                        nil, 0, [UInt8](repeating: 0, count: 12), k.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 0
                }
            }
            if opened { return fileKey }
        }
        throw .noIdentityMatched
    }
}
