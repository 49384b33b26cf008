import CSodium
import Foundation
import Testing
import TestSupport
@testable import VaultFormat

// The age v1 format (issue #24): C2SP's test kit, round trips, damage of every kind, and
// interop both ways with the reference `age` CLI.

private func bytes(_ b: borrowing SecureBytes) -> [UInt8] { b.withUnsafeBytes { (p: UnsafeRawBufferPointer) -> [UInt8] in [UInt8](p) } }

private func secureCopy(_ a: [UInt8]) -> SecureBytes {
    var s = SecureBytes(capacity: a.count, empty: true)
    a.withUnsafeBytes { s.append($0) }
    return s
}

private func sha256Hex(_ b: borrowing SecureBytes) -> String {
    var out = [UInt8](repeating: 0, count: 32)
    b.withUnsafeBytes { p in
        var empty: UInt8 = 0
        _ = crypto_hash_sha256(&out, p.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? withUnsafePointer(to: &empty) { $0 }, UInt64(p.count))
    }
    return out.map { String(format: "%02x", $0) }.joined()
}

/// Deterministic, non-secret test plaintext.
private func pattern(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) } }

private func classOf(_ e: AgeError) -> String {
    switch e {
    case .malformed: "malformed"
    case .noIdentityMatched: "no match"
    case .headerMACMismatch: "hmac"
    case .payloadDamaged: "payload"
    case .tooLarge: "too large"
    }
}

/// What `Age.decrypt` did, as one comparable value.
private func outcome(_ file: [UInt8], _ identity: borrowing SecureBytes, max: Int = 1 << 26) -> String {
    do {
        let p = try Age.decrypt(file, identity: identity, maxPlaintext: max)
        return "ok " + sha256Hex(p)
    } catch {
        return classOf(error)
    }
}

// MARK: - The C2SP/CCTV test kit

/// One vector of Tests/Fixtures/age-testkit (format: C2SP/CCTV age/README.md).
private struct Vector {
    let name: String
    let fields: [String: [String]]
    let file: [UInt8]
    var expect: String { fields["expect"]?.first ?? "" }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/age-testkit")

    static func all() throws -> [Vector] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0 != "LICENSE" }.sorted()
        return try names.map { name in
            let raw = [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
            guard let split = (0..<raw.count - 1).first(where: { raw[$0] == 10 && raw[$0 + 1] == 10 }) else {
                throw SetupError("\(name): no blank line after the vector's header")
            }
            var fields: [String: [String]] = [:]
            for line in String(decoding: raw[..<split], as: UTF8.self).split(separator: "\n") {
                guard let r = line.range(of: ": ") else { throw SetupError("\(name): bad header line") }
                fields[String(line[..<r.lowerBound]), default: []].append(String(line[r.upperBound...]))
            }
            var file = Array(raw[(split + 2)...])
            if fields["compressed"] == ["zlib"] { file = try inflate(file, name) }
            return Vector(name: name, fields: fields, file: file)
        }
    }

    /// zlib-decompresses with python3 (Foundation on Linux has no zlib API; python3 is in scripts/bootstrap).
    static func inflate(_ data: [UInt8], _ name: String) throws -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import sys, zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read()))"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input; p.standardOutput = output
        try p.run()
        let writer = Thread { input.fileHandleForWriting.write(Data(data)); try? input.fileHandleForWriting.close() }
        writer.start()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw SetupError("\(name): zlib data does not inflate") }
        return [UInt8](out)
    }
}

@Suite("Age test kit (C2SP/CCTV)")
struct AgeTestKitTests {
    /// Every vector with X25519 identities (or none) runs; hybrid (ML-KEM) and scrypt-only
    /// ones are counted as skipped: v1vault implements neither identity type.
    @Test("every X25519 vector of the test kit gives the kit's outcome: 99 run, 44 skipped")
    func testKit() throws {
        let vectors = try Vector.all()
        #expect(vectors.count == 143)
        var run = 0, skippedHybrid = 0, skippedScrypt = 0
        var perExpect: [String: Int] = [:]
        var wrong: [String] = []
        let fallback = Age.generateIdentity()  // for the two vectors that name no identity (empty files)
        for v in vectors {
            let ids = v.fields["identity"] ?? []
            if ids.contains(where: { $0.hasPrefix("AGE-SECRET-KEY-PQ-") }) { skippedHybrid += 1; continue }
            if ids.isEmpty && !(v.fields["passphrase"] ?? []).isEmpty { skippedScrypt += 1; continue }
            run += 1
            perExpect[v.expect, default: 0] += 1
            // Like age: try each identity in turn while the answer is "not for this identity".
            var got = "no match"
            for text in ids {
                guard let id = Age.parseIdentityText(text) else { throw SetupError("\(v.name): identity does not parse") }
                got = outcome(v.file, id)
                if got != "no match" { break }
            }
            if ids.isEmpty { got = outcome(v.file, fallback) }
            let want: String = switch v.expect {
            case "success": "ok " + (v.fields["payload"]?.first ?? "")
            case "no match": "no match"
            case "HMAC failure": "hmac"
            case "header failure", "armor failure": "malformed"
            case "payload failure": "payload"
            default: "unknown expectation \(v.expect)"
            }
            if got != want { wrong.append("\(v.name): expected \(want), got \(got)") }
        }
        #expect(wrong == [])
        #expect(run == 99)
        #expect(skippedHybrid == 19)
        #expect(skippedScrypt == 25)
        #expect(perExpect == ["success": 19, "header failure": 34, "armor failure": 22, "payload failure": 19, "no match": 4, "HMAC failure": 1])
    }

    @Test("the spec's example identity and recipient encode and decode")
    func specKeys() throws {
        guard let id = Age.parseIdentityText("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX") else {
            Issue.record("the spec's identity does not parse"); return
        }
        #expect(AgeRecipient(publicKey: Age.publicKey(forSecret: id)).text == "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj")
        #expect(Age.identityText(id) == "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX")
        #expect(AgeRecipient("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj")?.publicKey == Age.publicKey(forSecret: id))
    }
}

// MARK: - Encodings

@Suite("Age encodings")
struct AgeEncodingTests {
    @Test("Bech32: BIP 173's valid strings decode, its invalid ones do not, and age's long strings are allowed")
    func bech32() throws {
        for valid in ["A12UEL5L", "a12uel5l", "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
                      "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w"] {
            #expect(Bech32.decode(valid) != nil, "\(valid)")
        }
        for invalid in ["\u{20}1nwldj5", "\u{7f}1axkwrx", "pzry9x0s0muk", "1pzry9x0s0muk", "x1b4n0q5v", "li1dgmt3", "A1G7SGD8",
                        "10a06t8", "1qzzfhee", "a12UEL5L", "A12uEL5L", "a12uel5m"] {
            #expect(Bech32.decode(invalid) == nil, "\(invalid)")
        }
        // Round trip, lowercase out, uppercase in; no 90-character limit (age's PQ keys are ~2000).
        let data = pattern(1200)
        let text = Bech32.encode(hrp: "age1pq", data: data)
        #expect(text.count > 1900 && text == text.lowercased())
        #expect(Bech32.decode(text)?.data == data)
        #expect(Bech32.decode(text.uppercased())?.hrp == "age1pq")
        // Recipients: the right prefix and 32 bytes only.
        #expect(AgeRecipient(Bech32.encode(hrp: "age", data: pattern(31))) == nil)
        #expect(AgeRecipient(Bech32.encode(hrp: "agf", data: Age.publicKey(forSecret: Age.generateIdentity()))) == nil)
        #expect(AgeRecipient(Bech32.encode(hrp: "age", data: [UInt8](repeating: 0, count: 32))) == nil)  // low-order point
    }

    @Test("base64: canonical only, with and without padding")
    func base64() {
        func d(_ s: String, _ padded: Bool) -> [UInt8]? { AgeBase64.decode(Array(s.utf8)[...], padded: padded) }
        #expect(d("", false) == [])
        #expect(d("Zg", false) == Array("f".utf8))
        #expect(d("Zm8", false) == Array("fo".utf8))
        #expect(d("Zm9v", false) == Array("foo".utf8))
        #expect(d("Zh", false) == nil)       // non-zero unused bits
        #expect(d("Zm9", false) == nil)
        #expect(d("Zg==", false) == nil)     // padding in the header form
        #expect(d("Z", false) == nil)
        #expect(d("Zm 9v", false) == nil)
        #expect(d("Zg==", true) == Array("f".utf8))
        #expect(d("Zm8=", true) == Array("fo".utf8))
        #expect(d("Zg", true) == nil)        // armor needs its padding
        #expect(d("Zh==", true) == nil)
        #expect(d("Z===", true) == nil)
        #expect(d("Zg=a", true) == nil)
        for n in 0..<70 { #expect(AgeBase64.decode(AgeBase64.encode(pattern(n))[...], padded: false) == pattern(n)) }
    }

    @Test("HKDF-SHA-256 gives RFC 5869's test case 1 and 3 (first 32 bytes)")
    func hkdf() {
        func hex(_ s: String) -> [UInt8] { stride(from: 0, to: s.count, by: 2).map { UInt8(s.dropFirst($0).prefix(2), radix: 16)! } }
        let ikm = secureCopy([UInt8](repeating: 0x0b, count: 22))
        let okm1 = ikm.withUnsafeBytes { HKDF.sha256(ikm: $0, salt: hex("000102030405060708090a0b0c"), info: hex("f0f1f2f3f4f5f6f7f8f9")) }
        #expect(bytes(okm1) == hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"))
        let okm3 = ikm.withUnsafeBytes { HKDF.sha256(ikm: $0, salt: [], info: "") }
        #expect(bytes(okm3) == hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"))
    }
}

// MARK: - Round trips and damage

@Suite("Age round trips and damage")
struct AgeRoundTripTests {
    @Test("round trips to 1 and 3 recipients at the chunk boundaries", arguments: [0, 1, 65535, 65536, 65537, 200000])
    func roundTrip(size: Int) throws {
        let id0 = Age.generateIdentity(), id1 = Age.generateIdentity(), id2 = Age.generateIdentity()
        let recipients = [AgeRecipient(publicKey: Age.publicKey(forSecret: id0)), AgeRecipient(publicKey: Age.publicKey(forSecret: id1)),
                          AgeRecipient(publicKey: Age.publicKey(forSecret: id2))]
        let plain = secureCopy(pattern(size))
        let one = Age.encrypt(plain, to: [recipients[0]])
        #expect(bytes(try Age.decrypt(one, identity: id0, maxPlaintext: size)) == pattern(size))
        // Header (stanza, MAC line) + nonce + one 16-byte tag per chunk.
        let chunks: Int = max(1, (size + 65535) / 65536)
        let payloadOffset: Int = try Age.parseHeader(one).payloadOffset
        let expected: Int = payloadOffset + 16 + size + 16 * chunks
        #expect(one.count == expected)
        let three = Age.encrypt(plain, to: recipients)
        #expect(try Age.parseHeader(three).stanzas.map(\.type) == ["X25519", "X25519", "X25519"])
        #expect(bytes(try Age.decrypt(three, identity: id0, maxPlaintext: size)) == pattern(size))
        #expect(bytes(try Age.decrypt(three, identity: id1, maxPlaintext: size)) == pattern(size))
        #expect(bytes(try Age.decrypt(three, identity: id2, maxPlaintext: size)) == pattern(size))
        #expect(throws: AgeError.noIdentityMatched) { _ = try Age.decrypt(three, identity: Age.generateIdentity(), maxPlaintext: size) }
        if size > 0 { #expect(throws: AgeError.tooLarge) { _ = try Age.decrypt(one, identity: id0, maxPlaintext: size - 1) } }
    }

    @Test("the header is what the spec writes: version line, X25519 stanza, --- and a 43-character MAC")
    func headerShape() throws {
        let id = Age.generateIdentity()
        let file = Age.encrypt(secureCopy(pattern(5)), to: [AgeRecipient(publicKey: Age.publicKey(forSecret: id))])
        let h = try Age.parseHeader(file)
        let text = String(decoding: file[..<h.payloadOffset], as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 5 && lines[0] == "age-encryption.org/v1" && lines[4] == "")
        #expect(lines[1].hasPrefix("-> X25519 ") && lines[1].count == 10 + 43 && lines[2].count == 43)
        #expect(lines[3].hasPrefix("--- ") && lines[3].count == 4 + 43)
        #expect(h.mac.count == 32 && h.stanzas[0].body.count == 32 && h.macInputLength == text.utf8.count - 45)
    }

    @Test("a wrong identity is noIdentityMatched")
    func wrongIdentity() {
        let file = Age.encrypt(secureCopy(pattern(10)), to: [AgeRecipient(publicKey: Age.publicKey(forSecret: Age.generateIdentity()))])
        #expect(throws: AgeError.noIdentityMatched) { _ = try Age.decrypt(file, identity: Age.generateIdentity(), maxPlaintext: 100) }
    }

    @Test("every truncation of a small file fails, and so does every one near a two-chunk file's chunk boundary and end")
    func truncation() throws {
        let id = Age.generateIdentity()
        let r = AgeRecipient(publicKey: Age.publicKey(forSecret: id))
        let small = Age.encrypt(secureCopy(pattern(300)), to: [r])
        let two = Age.encrypt(secureCopy(pattern(65536 + 40)), to: [r])
        for file in [small, two] {
            let payloadOffset = try Age.parseHeader(file).payloadOffset
            let boundary = payloadOffset + 16 + 65552
            let offsets = file.count < 1000 ? Array(0..<file.count)
                : Array(0..<(payloadOffset + 40)) + Array((boundary - 20)...(boundary + 20)) + Array((file.count - 20)..<file.count)
            var counts: [String: Int] = [:]
            for n in offsets {
                let got = outcome(Array(file[..<n]), id)
                counts[got, default: 0] += 1
                // In the header or the nonce: malformed; in the chunks: payload damage.
                let want = n < payloadOffset + 16 ? "malformed" : "payload"
                if got != want { Issue.record("truncated to \(n) bytes: expected \(want), got \(got)"); break }
            }
            #expect(counts == ["malformed": payloadOffset + 16, "payload": offsets.count - payloadOffset - 16])
        }
    }

    @Test("every single-bit flip fails: header → malformed or no match, MAC → MAC mismatch, payload → payload damage")
    func bitFlips() throws {
        let id = Age.generateIdentity()
        let file = Age.encrypt(secureCopy(pattern(300)), to: [AgeRecipient(publicKey: Age.publicKey(forSecret: id))])
        let h = try Age.parseHeader(file)
        let macStart = h.macInputLength + 1  // after "--- "
        var counts: [String: Int] = [:]
        for i in 0..<file.count {
            var f = file
            f[i] ^= 0x01
            let got = outcome(f, id)
            #expect(!got.hasPrefix("ok"), "flip at \(i) decrypted")
            if i >= h.payloadOffset { #expect(got == "payload", "flip at \(i)") }
            counts[got, default: 0] += 1
        }
        // Flips inside the MAC's base64 that stay canonical are MAC mismatches; the payload's are all damage.
        #expect((counts["hmac"] ?? 0) > 0)
        #expect(counts["payload"] == file.count - h.payloadOffset)
        // The first MAC character flipped to another valid one: exactly a MAC mismatch.
        var f = file
        f[macStart] = f[macStart] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(throws: AgeError.headerMACMismatch) { _ = try Age.decrypt(f, identity: id, maxPlaintext: 1000) }
    }

    @Test("an added stanza, even of an unknown type, breaks the header MAC")
    func addedStanza() throws {
        let id = Age.generateIdentity()
        let file = Age.encrypt(secureCopy(pattern(3)), to: [AgeRecipient(publicKey: Age.publicKey(forSecret: id))])
        let h = try Age.parseHeader(file)
        let extra = Array("-> grease x\nAAAA\n".utf8)
        let modified = Array(file[..<(h.macInputLength - 3)]) + extra + Array(file[(h.macInputLength - 3)...])
        #expect(try Age.parseHeader(modified).stanzas.map(\.type) == ["X25519", "grease"])
        #expect(throws: AgeError.headerMACMismatch) { _ = try Age.decrypt(modified, identity: id, maxPlaintext: 100) }
    }

    @Test("data after the final chunk, an empty final chunk and a missing final flag are payload damage")
    func streamRules() throws {
        let id = Age.generateIdentity()
        let r = AgeRecipient(publicKey: Age.publicKey(forSecret: id))
        let small = Age.encrypt(secureCopy(pattern(10)), to: [r])
        #expect(throws: AgeError.payloadDamaged("final chunk fails authentication")) {
            _ = try Age.decrypt(small + [0], identity: id, maxPlaintext: 100)
        }
        let full = Age.encrypt(secureCopy(pattern(65536)), to: [r])
        #expect(bytes(try Age.decrypt(full, identity: id, maxPlaintext: 65536)) == pattern(65536))  // a full final chunk
        #expect(throws: AgeError.payloadDamaged("final chunk is empty")) {
            _ = try Age.decrypt(full + [UInt8](repeating: 0, count: 16), identity: id, maxPlaintext: 1 << 20)
        }
        #expect(throws: AgeError.payloadDamaged("final chunk is truncated")) {
            _ = try Age.decrypt(full + [0], identity: id, maxPlaintext: 1 << 20)
        }
        // Two chunks with the first one dropped: the second is not chunk 0.
        let two = Age.encrypt(secureCopy(pattern(65536 + 5)), to: [r])
        let off = try Age.parseHeader(two).payloadOffset + 16
        let dropped = Array(two[..<off]) + Array(two[(off + 65552)...])
        #expect(throws: AgeError.payloadDamaged("final chunk fails authentication")) { _ = try Age.decrypt(dropped, identity: id, maxPlaintext: 1 << 20) }
        // Header + nonce with no chunk at all.
        #expect(throws: AgeError.payloadDamaged("payload has no chunk")) { _ = try Age.decrypt(Array(small[..<off]), identity: id, maxPlaintext: 100) }
    }

    @Test("non-canonical base64 in a stanza argument, body or MAC is malformed")
    func nonCanonical() throws {
        let id = Age.generateIdentity()
        let file = Age.encrypt(secureCopy(pattern(3)), to: [AgeRecipient(publicKey: Age.publicKey(forSecret: id))])
        let h = try Age.parseHeader(file)
        // The 43rd character of a 32-byte value carries 2 unused bits; set one.
        let lines = file[..<h.payloadOffset].split(separator: 10, omittingEmptySubsequences: false).map(Array.init)
        for (line, col) in [(1, 10 + 42), (2, 42), (3, 4 + 42)] {
            var f = file
            let offset = lines[..<line].reduce(0) { $0 + $1.count + 1 } + col
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
            let v = alphabet.firstIndex(of: f[offset])!
            f[offset] = alphabet[v ^ 1]
            #expect(throws: AgeError.self) { _ = try Age.decrypt(f, identity: id, maxPlaintext: 100) }
            #expect(outcome(f, id) == "malformed", "line \(line)")
        }
    }

    @Test("armor: age's form decodes; text around it, a short inner line, or bad padding is malformed")
    func armor() throws {
        let id = Age.generateIdentity()
        let file = Age.encrypt(secureCopy(pattern(200)), to: [AgeRecipient(publicKey: Age.publicKey(forSecret: id))])
        let b64 = Data(file).base64EncodedString()
        var lines: [String] = []
        var s = Substring(b64)
        while !s.isEmpty { lines.append(String(s.prefix(64))); s = s.dropFirst(64) }
        let armored = "-----BEGIN AGE ENCRYPTED FILE-----\n" + lines.joined(separator: "\n") + "\n-----END AGE ENCRYPTED FILE-----\n"
        #expect(bytes(try Age.decrypt(Array(armored.utf8), identity: id, maxPlaintext: 1000)) == pattern(200))
        #expect(bytes(try Age.decrypt(Array(("\n  \n" + armored + "\n\t\n").utf8), identity: id, maxPlaintext: 1000)) == pattern(200))
        #expect(outcome(Array(("x" + armored).utf8), id) == "malformed")
        #expect(outcome(Array((armored + "x").utf8), id) == "malformed")
        let shortInner = armored.replacingOccurrences(of: lines[0] + "\n", with: String(lines[0].dropLast(4)) + "\n" + String(lines[0].suffix(4)) + "\n")
        #expect(outcome(Array(shortInner.utf8), id) == "malformed")
    }
}

// MARK: - Interop with the reference age CLI

private let ageInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/age")
    && FileManager.default.isExecutableFile(atPath: "/usr/bin/age-keygen")

@Suite("Age interop with the reference CLI")
struct AgeInteropTests {
    /// Runs a program; returns its exit status and stdout (stderr is kept for the message).
    @discardableResult
    func run(_ argv: [String]) throws -> (status: Int32, out: [UInt8], err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, [UInt8](o), String(decoding: e, as: UTF8.self))
    }

    func write(_ path: String, _ bytes: [UInt8]) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            throw SetupError("cannot create \(path)")
        }
    }

    @Test("what Age.encrypt writes, age -d -i decrypts", .enabled(if: ageInstalled, "the reference age CLI is not installed (apt-get install age)"))
    func oursToAge() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try run(["/usr/bin/age-keygen", "-o", dir + "/key.txt"]).status == 0)
        let keyFile = try String(contentsOfFile: dir + "/key.txt", encoding: .utf8)
        guard let line = keyFile.split(separator: "\n").first(where: { $0.hasPrefix("# public key: ") }),
              let recipient = AgeRecipient(String(line.dropFirst("# public key: ".count))) else {
            throw SetupError("age-keygen wrote no public key line")
        }
        let other = AgeRecipient(publicKey: Age.publicKey(forSecret: Age.generateIdentity()))
        for size in [0, 1, 65536, 70000] {
            try write(dir + "/f.age", Age.encrypt(secureCopy(pattern(size)), to: [other, recipient]))
            let r = try run(["/usr/bin/age", "-d", "-i", dir + "/key.txt", dir + "/f.age"])
            #expect(r.status == 0, "\(r.err)")
            #expect(r.out == pattern(size), "size \(size)")
        }
        // And the identity age-keygen wrote parses to the same recipient.
        guard let idLine = keyFile.split(separator: "\n").first(where: { $0.hasPrefix("AGE-SECRET-KEY-1") }),
              let id = Age.parseIdentityText(String(idLine)) else { throw SetupError("age-keygen wrote no identity line") }
        #expect(Age.publicKey(forSecret: id) == recipient.publicKey)
    }

    @Test("what age -r writes, binary or armored (-a), Age.decrypt opens", .enabled(if: ageInstalled, "the reference age CLI is not installed (apt-get install age)"))
    func ageToOurs() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let id = Age.generateIdentity()
        let recipient = AgeRecipient(publicKey: Age.publicKey(forSecret: id))
        for size in [0, 1, 65536, 70000] {
            try write(dir + "/in", pattern(size))
            for armor in [false, true] {
                let r = try run(["/usr/bin/age", "-r", recipient.text] + (armor ? ["-a"] : []) + ["-o", dir + "/f.age", dir + "/in"])
                #expect(r.status == 0, "\(r.err)")
                let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/f.age")))
                #expect(file.starts(with: Array((armor ? "-----BEGIN AGE ENCRYPTED FILE-----" : "age-encryption.org/v1").utf8)))
                #expect(bytes(try Age.decrypt(file, identity: id, maxPlaintext: size)) == pattern(size), "size \(size) armor \(armor)")
                #expect(throws: AgeError.noIdentityMatched) { _ = try Age.decrypt(file, identity: Age.generateIdentity(), maxPlaintext: size) }
            }
        }
        // Our identity in age's text form works with age itself.
        try write(dir + "/key.txt", Array((Age.identityText(id) + "\n").utf8))
        try write(dir + "/g.age", Age.encrypt(secureCopy(pattern(9)), to: [recipient]))
        let r = try run(["/usr/bin/age", "-d", "-i", dir + "/key.txt", dir + "/g.age"])
        #expect(r.status == 0 && r.out == pattern(9), "\(r.err)")
    }

    func makeTempDir() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("v1vault-age-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        return path
    }
}
