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

    @Test("the vectors in SECURITY.md are the ones tested here")
    func specText() throws {
        let spec = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("SECURITY.md"), encoding: .utf8)
        for v in ["a0eabc9f4d2701d08b97b7cea3f63ebab61ddfb8cb806258dd3d6a5bbc796b92", "b6b5615446a2239e273edac9b06f3fd79e2c762e2ea08ca263583a686bb53383",
                  "b818690be7332c2da6b3fc4b5842374fa8c80c65156ce9ce8a4b20ce193a40b3", "e94ce25e44b7a9920e4ff63c9465846e056e8d1d82b693aa786cf59ab3c2a4a0",
                  "366802fd173d901c21fe39bb7cd5c8e9b004aaa84c13d46701c1e73ad70a645a24de7fc8c7f6bc7967ffb16b6b87a5d93e3360c4d1b4df1498",
                  "2d14172385e539f7a498082a39e75a5b61f747e8664cafc7d7751f2bbb7f5c79", "47327ce86b52328b2820a5875c171be981318b49e71df424df2bc4a7b529b13d",
                  "d7fd721b400a691f355f6494f00d452bcda1e5337688a34603db402c9c9cb9ef", "3d970f6d4d2c3173624bb137ef721b1f2dd8265bf1bb8d389679a92ed9c20dee"] {
            #expect(spec.contains(v), "SECURITY.md lacks \(v)")
        }
    }
}
