import Foundation
import Testing
@testable import VaultCore
@testable import VaultFormat
@testable import VaultStorage

/// The known-answer vectors printed in SECURITY.md ("Known-answer vectors"), computed there by
/// scripts/kat.py from the spec alone; here the implementation must produce the same bytes.
@Suite("Known-answer vectors (SECURITY.md)")
struct KnownAnswerTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
    static func hex(_ b: borrowing SecureBytes) -> String { b.withUnsafeBytes { hex(Array($0)) } }

    /// The master key 00 01 … 1f.
    var master: MasterKey {
        var key = SecureBytes(capacity: 32, empty: true)
        for b in 0..<32 { key.append(UInt8(b)) }
        return MasterKey(key: key)
    }
    let vaultID = (0xA0..<0xB0).map(UInt8.init)

    static let specURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("SECURITY.md")

    @Test("subkeys from a master key")
    func subkeys() {
        #expect(Self.hex(master.subkey(context: "V1VTOKEN")) == "a0eabc9f4d2701d08b97b7cea3f63ebab61ddfb8cb806258dd3d6a5bbc796b92")
        #expect(Self.hex(master.subkey(context: "V1VAUDIT")) == "54b0359d3562184cafba736525de5e0bf50c8543550d7b1e8bef2a23a683c010")
        #expect(Self.hex(master.subkey(context: "V1VMETA_")) == "8c157b5d3840fb4bfae630e69c3dfb3bd11a75c76c499cadc58384cad4bdc732")
        #expect(Self.hex(master.subkey(context: "V1VAKEYS")) == "2e8a28c70f83994a60c27d02d443dbf3fc872c1e6f42289082444075cbbd2af3")
    }

    @Test("a metadata MAC")
    func metadataMAC() {
        let t = TokenRecord(id: 1, name: "siem", region: "eu", baseUrl: "https://api.eu.xdr.trendmicro.com", role: "SIEM",
                            description: nil, permissions: #"["a","b"]"#, createdAt: 1_767_225_600, metaMac: nil)
        #expect(Self.hex(MetadataMAC.mac(key: master.subkey(context: "V1VMETA_"), vaultID: vaultID, t))
                == "b6b5615446a2239e273edac9b06f3fd79e2c762e2ea08ca263583a686bb53383")
    }

    @Test("an audit MAC chain of two rows")
    func auditChain() {
        let key = master.subkey(context: "V1VAUDIT")
        let row1 = AuditRecord(seq: 1, at: "2027-01-01T00:00:00.000Z", action: "init", tokens: "[]", outcome: "ok", reason: nil,
                               details: #"{"state":"sealed"}"#, osUser: "u", uid: 7, host: "h", pid: 9, mac: nil)
        let row2 = AuditRecord(seq: 2, at: "2027-01-01T00:00:01.000Z", action: "add", tokens: #"[{"name":"siem","version":1}]"#,
                               outcome: "ok", reason: nil, details: #"{"region":"eu","state":"sealed"}"#, osUser: "u", uid: 7, host: "h", pid: 10, mac: nil)
        let mac1 = AuditChain.mac(key: key, previous: AuditChain.genesis, row: row1)
        #expect(Self.hex(mac1) == "47cddd7e25ab9f14b1a4b10290e80ec64e3f11279f0dc0626fd2c612a86f7090")
        #expect(Self.hex(AuditChain.mac(key: key, previous: mac1, row: row2)) == "b818690be7332c2da6b3fc4b5842374fa8c80c65156ce9ce8a4b20ce193a40b3")
    }

    @Test("one sealed version opens to its token under its binding, and only under it")
    func sealedVersion() throws {
        let key = master.subkey(context: "V1VTOKEN")
        let nonce = Self.bytes("404142434445464748494a4b4c4d4e4f5051525354555657")
        let ct = Self.bytes("366802fd173d901c21fe39bb7cd5c8e9b004aaa84c13d46701c1e73ad70a645a24de7fc8c7f6bc7967ffb16b6b87a5d93e3360c4d1b4df1498")
        guard let opened = SealedEntry.open(ciphertext: ct, nonce: nonce, binding: try SealedEntry.binding(vaultID: vaultID, tokenID: 1, version: 1), key: key) else {
            Issue.record("the known sealed version does not open"); return
        }
        #expect(string(opened) == "eyJ.kat-token")
        let wrongVersion = SealedEntry.open(ciphertext: ct, nonce: nonce, binding: try SealedEntry.binding(vaultID: vaultID, tokenID: 1, version: 2), key: key)
        let refused = wrongVersion == nil
        #expect(refused)
        #expect(throws: VaultError.self) { try SealedEntry.binding(vaultID: vaultID, tokenID: 1, version: 4_294_967_297) }
    }

    @Test("a state MAC")
    func stateMAC() throws {
        let versions = [VersionState(version: 1, createdAt: 1_767_225_600, expiresAt: 1_798_761_600, retiredAt: nil,
                                     nonce: Data(Self.bytes("404142434445464748494a4b4c4d4e4f5051525354555657")))]
        #expect(Self.hex(try StateMAC.mac(key: master.subkey(context: "V1VMETA_"), vaultID: vaultID, tokenID: 1, stateSeq: 2, versions: versions))
                == "e94ce25e44b7a9920e4ff63c9465846e056e8d1d82b693aa786cf59ab3c2a4a0")
    }

    @Test("a metadata MAC v2 (schema 5: a warning window or a manager key)")
    func metadataMACv2() {
        let key = master.subkey(context: "V1VMETA_")
        var t = TokenRecord(id: 1, name: "siem", region: "eu", baseUrl: "https://api.eu.xdr.trendmicro.com", role: "SIEM",
                            description: nil, permissions: #"["a","b"]"#, createdAt: 1_767_225_600, metaMac: nil, warnDays: 14, manager: true)
        #expect(Self.hex(MetadataMAC.mac(key: key, vaultID: vaultID, t)) == "2d14172385e539f7a498082a39e75a5b61f747e8664cafc7d7751f2bbb7f5c79")
        t.warnDays = nil
        #expect(Self.hex(MetadataMAC.mac(key: key, vaultID: vaultID, t)) == "47327ce86b52328b2820a5875c171be981318b49e71df424df2bc4a7b529b13d")
        // Both cleared: exactly the v1 vector, which no v2 MAC can equal (the domains differ).
        t.manager = false
        #expect(Self.hex(MetadataMAC.mac(key: key, vaultID: vaultID, t)) == "b6b5615446a2239e273edac9b06f3fd79e2c762e2ea08ca263583a686bb53383")
    }

    @Test("a state MAC v2 (schema 5: console links, a staged version)")
    func stateMACv2() throws {
        let key = master.subkey(context: "V1VMETA_")
        func nonce(_ from: Int) -> Data { Data((from..<(from + 24)).map(UInt8.init)) }
        var versions = [
            VersionState(version: 1, createdAt: 1_767_225_600, expiresAt: 1_798_761_600, retiredAt: 1_780_000_000, nonce: nonce(0x40)),
            VersionState(version: 2, createdAt: 1_780_000_000, expiresAt: 1_811_536_000, retiredAt: nil, nonce: nonce(0x58),
                         console: ConsoleLink(id: "1234-abcd", name: "siem", state: .enabled)),
            VersionState(version: 3, createdAt: 1_790_000_000, expiresAt: 1_821_536_000, retiredAt: 1_790_000_000, nonce: nonce(0x70),
                         console: ConsoleLink(id: "5678-ef01", name: "siem-v1v20260923-0a1b", state: .enabled)),
        ]
        // The token's metadata MAC (the v2 vector above) ends the input.
        let t = TokenRecord(id: 1, name: "siem", region: "eu", baseUrl: "https://api.eu.xdr.trendmicro.com", role: "SIEM",
                            description: nil, permissions: #"["a","b"]"#, createdAt: 1_767_225_600, metaMac: nil, warnDays: 14, manager: true)
        let bound = StateMAC.Bound(metaMac: Data(MetadataMAC.mac(key: key, vaultID: vaultID, t)), manager: true, warnDays: 14)
        let v2 = try StateMAC.mac(key: key, vaultID: vaultID, tokenID: 1, stateSeq: 7, versions: versions, bound: bound)
        #expect(Self.hex(v2) == "d7fd721b400a691f355f6494f00d452bcda1e5337688a34603db402c9c9cb9ef")
        // Another metadata MAC (an older tokens row put back), another state MAC.
        var older = bound
        older.metaMac = Data(repeating: 7, count: 32)
        #expect(try StateMAC.mac(key: key, vaultID: vaultID, tokenID: 1, stateSeq: 7, versions: versions, bound: older) != v2)
        // Clearing the links, the mark and the window makes it v1 again: another domain, another MAC.
        for i in versions.indices { versions[i].console = ConsoleLink() }
        #expect(try StateMAC.mac(key: key, vaultID: vaultID, tokenID: 1, stateSeq: 7, versions: versions) != v2)
    }

    @Test("a renewal intent MAC")
    func intentMAC() {
        #expect(Self.hex(IntentMAC.mac(key: master.subkey(context: "V1VMETA_"), vaultID: vaultID, id: 1, tokenID: 1,
                                       plannedName: "siem-v1v20270101-0a1b", baseURL: "https://api.eu.xdr.trendmicro.com", createdAt: 1_798_761_600))
                == "3d970f6d4d2c3173624bb137ef721b1f2dd8265bf1bb8d389679a92ed9c20dee")
    }

    // MARK: - Schema 6 (sharing)

    static let x25519Secret = (0x01...0x20).map(UInt8.init)
    static let ed25519Seed = (0x21...0x40).map(UInt8.init)
    static let identityNonce = (0xC0...0xD7).map(UInt8.init)
    static let identitySealed = "76e6ebb8603cf54869323ff0b8d21171ada78f3f18c423e4d08b4e2fa519196f080408141985f53775173cfee959bcd8b645f58c5f20c047b6d31d9d77b5eff776cf4793ac355dfe4e1a1c2fc9af799fdab2e4b98ff3e122222c002ce105fb80"
    static let agePublic = "07a37cbc142093c8b755dc1b10e86cb426374ad16aa853ed0bdfc0b2b86d1c7c"
    static let signingPublic = "e7f162a10bec559afea195e4dce84b69568d5d2cb0963eb446c0685e2b17f2f0"
    static let recipientText = "age1q73he0q5yzfu3d64msd3p6rvksnrwjk3d2598mgtmlqt9wrdr37q2vrn72"
    static let signingText = "v1vsig1ulck9ggta32e4l4pjhjde6ztd9tg6hfvkztradzxcp59u2ch7tcqf4elww"

    /// The identity of the fixed secrets 01…20 (X25519) and 21…40 (Ed25519 seed).
    static func fixedIdentity() -> ShareIdentity {
        func secure(_ bytes: [UInt8]) -> SecureBytes {
            var out = SecureBytes(capacity: bytes.count, empty: true)
            for b in bytes { out.append(b) }
            return out
        }
        return ShareIdentity(ageSecret: secure(x25519Secret), seed: secure(ed25519Seed))
    }

    @Test("the share key from a master key")
    func shareKey() {
        #expect(Self.hex(master.subkey(context: MasterKey.shareContext)) == "5789b00c36d825e94b061672e1576be277adc0f9bf79d6a295de5700fd9fbe93")
    }

    @Test("the identity box: fixed secrets and nonce give the sealed bytes, the public keys and their text forms")
    func identityBox() throws {
        let key = master.subkey(context: MasterKey.shareContext)
        let identity = Self.fixedIdentity()
        #expect(Self.hex(identity.agePublic) == Self.agePublic)
        #expect(Self.hex(identity.signingPublic) == Self.signingPublic)
        #expect(identity.recipient.text == Self.recipientText)
        #expect(SigningKey.text(identity.signingPublic) == Self.signingText)
        // What seal() puts in the box (under a random nonce) is exactly the vector's plaintext …
        let (nonce, sealed) = identity.seal(vaultID: vaultID, key: key)
        guard let plaintext = SecretBox.open(ciphertext: sealed, nonce: nonce, key: key) else {
            Issue.record("the identity's own box does not open"); return
        }
        #expect(Self.hex(plaintext) == Self.hex(vaultID + Self.x25519Secret + Self.ed25519Seed))
        // … and the vector's box, under its fixed nonce, opens as this vault's identity.
        let row = IdentityRow(agePublic: Data(Self.bytes(Self.agePublic)), signingPublic: Data(Self.bytes(Self.signingPublic)),
                              nonce: Data(Self.identityNonce), sealed: Data(Self.bytes(Self.identitySealed)), createdAt: 1_798_761_600)
        guard let vectorPlaintext = SecretBox.open(ciphertext: Self.bytes(Self.identitySealed), nonce: Self.identityNonce, key: key) else {
            Issue.record("the vector's box does not open under the share key"); return
        }
        #expect(Self.hex(vectorPlaintext) == Self.hex(plaintext))
        guard let opened = ShareIdentity.open(row, vaultID: vaultID, key: key) else {
            Issue.record("the vector's identity row is refused"); return
        }
        #expect(Self.hex(opened.ageSecret) == Self.hex(Self.x25519Secret))
        #expect(Self.hex(opened.signingSecret) == Self.hex(Self.ed25519Seed + Self.bytes(Self.signingPublic)))
        // Another vault's id, or a public key that is not the box's, is refused.
        func opens(_ row: IdentityRow, _ id: [UInt8]) -> Bool {
            switch ShareIdentity.open(row, vaultID: id, key: key) { case .some: true; case .none: false }
        }
        #expect(!opens(row, (0xB0..<0xC0).map(UInt8.init)))
        var swapped = row
        swapped.agePublic = Data(Self.bytes(Self.signingPublic))
        #expect(!opens(swapped, vaultID))
    }

    @Test("recipient, follow and received-mark MACs")
    func shareMACs() {
        let key = master.subkey(context: "V1VMETA_")
        var r = RecipientRow(id: 1, name: "host-a", ageRecipient: Self.recipientText, signingKey: Data(Self.bytes(Self.signingPublic)),
                             trusted: true, createdAt: 1_798_761_600, mac: Data())
        #expect(Self.hex(ShareMAC.recipient(key: key, vaultID: vaultID, r)) == "58acc175ee5446a1a508f5331a8990649655bf8795e98e91bfa151cb0826c0bb")
        r.id = 2
        r.name = "host-b"
        r.signingKey = nil
        r.trusted = false
        #expect(Self.hex(ShareMAC.recipient(key: key, vaultID: vaultID, r)) == "eacf03da4a8231e397e2bfd3c08e1b943dc7b9c3efdb82f0b7a80adf8dacd41e")
        #expect(Self.hex(ShareMAC.follow(key: key, vaultID: vaultID, FollowRow(recipientID: 1, tokenID: 1, mac: Data())))
                == "d6f875dbb351904ec0c124f3c0c527e08271dbade5859ae974c7822d208fa5b8")
        let mark = ReceivedRow(tokenID: 1, senderKey: Data(Self.bytes(Self.signingPublic)), remoteVersion: 3, receivedAt: 1_798_761_600, mac: Data())
        #expect(Self.hex(ShareMAC.received(key: key, vaultID: vaultID, mark)) == "e6072496f9f4cc18c960bf8f76df7f4e0638fad20d77ea28e68ad43f597f3fa9")
    }

    @Test("the sharing state MAC (schema 7) over the schema-6 vectors' rows, and the empty state of a new vault")
    func sharingStateMAC() {
        let key = master.subkey(context: "V1VMETA_")
        // Each row carries its own MAC (the vectors above); the state covers each row's id and MAC.
        let recipients = [
            RecipientRow(id: 1, name: "host-a", ageRecipient: Self.recipientText, signingKey: Data(Self.bytes(Self.signingPublic)),
                         trusted: true, createdAt: 1_798_761_600, mac: Data(Self.bytes("58acc175ee5446a1a508f5331a8990649655bf8795e98e91bfa151cb0826c0bb"))),
            RecipientRow(id: 2, name: "host-b", ageRecipient: Self.recipientText, signingKey: nil,
                         trusted: false, createdAt: 1_798_761_600, mac: Data(Self.bytes("eacf03da4a8231e397e2bfd3c08e1b943dc7b9c3efdb82f0b7a80adf8dacd41e"))),
        ]
        let follows = [FollowRow(recipientID: 1, tokenID: 1, mac: Data(Self.bytes("d6f875dbb351904ec0c124f3c0c527e08271dbade5859ae974c7822d208fa5b8")))]
        let received = [ReceivedRow(tokenID: 1, senderKey: Data(Self.bytes(Self.signingPublic)), remoteVersion: 3, receivedAt: 1_798_761_600,
                                    mac: Data(Self.bytes("e6072496f9f4cc18c960bf8f76df7f4e0638fad20d77ea28e68ad43f597f3fa9")))]
        // The input, as SECURITY.md lays it out: vault_id, u64be(state_seq), then each table's count and rows.
        let input = ShareMAC.stateInput(vaultID: vaultID, stateSeq: 9, recipients: recipients, follows: follows, received: received)
        #expect(input.count == 16 + 8 + 4 + 2 * (8 + 32) + 4 + (8 + 8 + 32) + 4 + (8 + 32))
        #expect(Self.hex(Array(input[16..<28])) == "000000000000000900000002")
        #expect(Self.hex(ShareMAC.state(key: key, vaultID: vaultID, stateSeq: 9, recipients: recipients, follows: follows, received: received))
                == "31ef55d38b9d728c3534280b3bb7c06337d6efb66fd854bc988a4c0872a11480")
        #expect(Self.hex(ShareMAC.state(key: key, vaultID: vaultID, stateSeq: 1, recipients: [], follows: [], received: []))
                == "aa438740378f2f584630e0dc45c985fceea7208fcfa244bb19e890e47e0f32d1")
    }

    static let transferSignature = "bed3d52b2e66c877b76af90b73f18248f5b5aae6f7789889d7cf86b17db36b58d2fb3a12097ad48ae093bace48eeeba69beedab7e64a0d5e20c20fecbe2d0c06"

    /// The transfer document of SECURITY.md's vector, byte for byte (the fenced block after
    /// "**Transfer document** (schema 6)").
    static func specTransferDocument() throws -> String {
        let spec = try String(contentsOf: specURL, encoding: .utf8)
        let start = try #require(spec.range(of: "**Transfer document** (schema 6)"))
        let open = try #require(spec.range(of: "```\n", range: start.upperBound..<spec.endIndex))
        let close = try #require(spec.range(of: "```\n", range: open.upperBound..<spec.endIndex))
        return String(spec[open.upperBound..<close.lowerBound])
    }

    @Test("a complete transfer document: TransferDocument.build writes SECURITY.md's bytes and signature, and parse reads them back")
    func transferDocument() throws {
        let sender = Self.fixedIdentity()
        let addressee = AgeRecipient(publicKey: Self.bytes("64b101b1d0be5a8704bd078f9895001fc03e8e9f9522f188dd128d9846d48466"))
        #expect(addressee.text == "age1vjcsrvwshedgwp9aq78e39gqrlqrar5lj530rzxaz2xes3k5s3nqxdc696")
        let entry = TransferEntry(name: "siem", region: "eu", baseURL: "https://api.eu.xdr.trendmicro.com", role: "SIEM",
                                  description: #"SOC "tier 1""#, permissions: ["a", "b"], version: 2, createdAt: 1_798_761_600,
                                  expiresAt: 1_830_297_600, consoleID: "1234-abcd", consoleName: "siem")
        let value = Array("eyJ.kat-token".utf8)
        let doc = TransferDocument.build(sender: sender, issued: 1_799_031_600, to: [addressee], entries: [entry],
                                         valueLength: { _ in value.count }, appendValue: { _, buf in value.withUnsafeBytes { buf.append($0) } })
        let expected = try Self.specTransferDocument()
        #expect(doc.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } == expected)
        #expect(doc.count == 626)

        let parsed = try TransferDocument.parse(doc)
        #expect(parsed.from == sender.recipient && parsed.signer == sender.signingPublic)
        #expect(parsed.issued == 1_799_031_600 && parsed.to == [addressee] && parsed.entries == [entry])
        #expect(Self.hex(parsed.signature) == Self.transferSignature)
        #expect(parsed.signedRange == 0..<527)
        #expect(parsed.valueRanges.count == 1)
        #expect(doc.withUnsafeBytes { d in parsed.valueRanges.map { Array(d[$0]) } } == [value])
        let verified = TransferDocument.verify(doc, parsed, key: sender.signingPublic)
        #expect(verified)
        // The signature covers the context string: the same bytes signed without it do not verify.
        let bare = doc.withUnsafeBytes { d in SigningKey.verify(signature: parsed.signature, message: UnsafeRawBufferPointer(rebasing: d[parsed.signedRange]),
                                                                 publicKey: sender.signingPublic) }
        #expect(!bare)
    }

    @Test("the vectors in SECURITY.md are the ones tested here")
    func specText() throws {
        let spec = try String(contentsOf: Self.specURL, encoding: .utf8)
        for v in ["a0eabc9f4d2701d08b97b7cea3f63ebab61ddfb8cb806258dd3d6a5bbc796b92", "b6b5615446a2239e273edac9b06f3fd79e2c762e2ea08ca263583a686bb53383",
                  "b818690be7332c2da6b3fc4b5842374fa8c80c65156ce9ce8a4b20ce193a40b3", "e94ce25e44b7a9920e4ff63c9465846e056e8d1d82b693aa786cf59ab3c2a4a0",
                  "366802fd173d901c21fe39bb7cd5c8e9b004aaa84c13d46701c1e73ad70a645a24de7fc8c7f6bc7967ffb16b6b87a5d93e3360c4d1b4df1498",
                  "2d14172385e539f7a498082a39e75a5b61f747e8664cafc7d7751f2bbb7f5c79", "47327ce86b52328b2820a5875c171be981318b49e71df424df2bc4a7b529b13d",
                  "d7fd721b400a691f355f6494f00d452bcda1e5337688a34603db402c9c9cb9ef", "3d970f6d4d2c3173624bb137ef721b1f2dd8265bf1bb8d389679a92ed9c20dee",
                  "5789b00c36d825e94b061672e1576be277adc0f9bf79d6a295de5700fd9fbe93", Self.identitySealed, Self.agePublic, Self.signingPublic,
                  Self.recipientText, Self.signingText, "58acc175ee5446a1a508f5331a8990649655bf8795e98e91bfa151cb0826c0bb",
                  "eacf03da4a8231e397e2bfd3c08e1b943dc7b9c3efdb82f0b7a80adf8dacd41e", "d6f875dbb351904ec0c124f3c0c527e08271dbade5859ae974c7822d208fa5b8",
                  "e6072496f9f4cc18c960bf8f76df7f4e0638fad20d77ea28e68ad43f597f3fa9", Self.transferSignature,
                  "31ef55d38b9d728c3534280b3bb7c06337d6efb66fd854bc988a4c0872a11480", "aa438740378f2f584630e0dc45c985fceea7208fcfa244bb19e890e47e0f32d1"] {
            #expect(spec.contains(v), "SECURITY.md lacks \(v)")
        }
    }
}
