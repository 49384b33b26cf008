import Foundation
import GRDB
import Testing
@testable import VaultCore
@testable import VaultFormat

@Suite("Crypto")
struct CryptoTests {
    @Test("a token round-trips through seal and open")
    func roundTrip() throws {
        let f = Fixture()
        _ = try f.create()
        try f.unlocked().add("a", token: secure("tok-123.xyz"), metadata: TokenMetadata(), expires: nil)
        let revealed = try f.unlocked().reveal("a")
        #expect(string(revealed.secret) == "tok-123.xyz")
        #expect(revealed.version == 1)
    }

    @Test("a flipped ciphertext byte fails authentication naming the token and version")
    func tamperedCiphertext() throws {
        let f = Fixture()
        _ = try f.create()
        try f.unlocked().add("a", token: secure("tok"), metadata: TokenMetadata(), expires: nil)
        func mutate(_ change: (inout [UInt8]) -> Void) throws {
            try f.raw().write { db in
                var bytes = [UInt8](try Data.fetchOne(db, sql: "SELECT ciphertext FROM token_versions")!)
                change(&bytes)
                try db.execute(sql: "UPDATE token_versions SET ciphertext = ?", arguments: [Data(bytes)])
            }
        }
        try mutate { $0[$0.count - 1] ^= 0x01 }  // last encrypted byte
        #expect(throws: VaultError.authenticationFailed(name: "a", version: 1)) { try f.unlocked().reveal("a") }
        try mutate { $0[$0.count - 1] ^= 0x01; $0[3] ^= 0x01 }  // restored, then a bit inside the MAC
        #expect(throws: VaultError.authenticationFailed(name: "a", version: 1)) { try f.unlocked().reveal("a") }
        try mutate { $0[3] ^= 0x01; $0.append(0) }  // restored, then one byte longer
        #expect(throws: VaultError.authenticationFailed(name: "a", version: 1)) { try f.unlocked().reveal("a") }
        try mutate { $0.removeLast() }  // restored exactly: opens again
        #expect(string(try f.unlocked().reveal("a").secret) == "tok")
    }

    @Test("a flipped nonce byte fails authentication")
    func tamperedNonce() throws {
        let f = Fixture()
        _ = try f.create()
        try f.unlocked().add("a", token: secure("tok"), metadata: TokenMetadata(), expires: nil)
        try f.raw().write { db in
            let n = try Data.fetchOne(db, sql: "SELECT nonce FROM token_versions")!
            var bytes = [UInt8](n); bytes[0] ^= 0x80
            try db.execute(sql: "UPDATE token_versions SET nonce = ?", arguments: [Data(bytes)])
        }
        #expect(throws: VaultError.stateTampered(name: "a", reason: Self.stateReason)) { try f.unlocked().reveal("a") }
        try resealState(try f.unlocked(), "a")
        #expect(throws: VaultError.authenticationFailed(name: "a", version: 1)) { try f.unlocked().reveal("a") }
    }

    static let stateReason = "its current version, an expiry or a kept version was changed outside v1vault"

    @Test("a ciphertext copied into another token's row does not open there")
    func ciphertextMovedToAnotherRow() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("a", token: secure("secret-a"), metadata: TokenMetadata(), expires: nil)
        try u.add("b", token: secure("secret-b"), metadata: TokenMetadata(), expires: nil)
        try f.raw().write { db in
            try db.execute(sql: """
                UPDATE token_versions SET (nonce, ciphertext) =
                  (SELECT nonce, ciphertext FROM token_versions v JOIN tokens t ON t.id = v.token_id WHERE t.name = 'a')
                WHERE token_id = (SELECT id FROM tokens WHERE name = 'b')
                """)
        }
        // The nonce moved with it, so the state MAC fails first; behind it, the box's binding.
        #expect(throws: VaultError.stateTampered(name: "b", reason: Self.stateReason)) { try f.unlocked().reveal("b") }
        try resealState(try f.unlocked(), "b")
        #expect(throws: VaultError.authenticationFailed(name: "b", version: 1)) { try f.unlocked().reveal("b") }
        #expect(string(try f.unlocked().reveal("a").secret) == "secret-a")
    }

    @Test("a ciphertext copied into another version of the same token does not open there")
    func ciphertextMovedToAnotherVersion() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("a", token: secure("v1-secret"), metadata: TokenMetadata(), expires: nil)
        _ = try u.rotate("a", token: secure("v2-secret"), expires: nil)
        try f.raw().write { db in
            try db.execute(sql: """
                UPDATE token_versions SET (nonce, ciphertext) = (SELECT nonce, ciphertext FROM token_versions WHERE version = 1)
                WHERE version = 2
                """)
        }
        #expect(throws: VaultError.stateTampered(name: "a", reason: Self.stateReason)) { try f.unlocked().reveal("a") }
        try resealState(try f.unlocked(), "a")
        #expect(throws: VaultError.authenticationFailed(name: "a", version: 2)) { try f.unlocked().reveal("a") }
    }

    @Test("a ciphertext from another vault (same passphrase) does not open")
    func ciphertextFromAnotherVault() throws {
        let f1 = Fixture(), f2 = Fixture()
        _ = try f1.create(); _ = try f2.create()
        try f1.unlocked().add("a", token: secure("one"), metadata: TokenMetadata(), expires: nil)
        try f2.unlocked().add("a", token: secure("two"), metadata: TokenMetadata(), expires: nil)
        let (nonce, ct) = try f1.raw().read { db in
            let row = try Row.fetchOne(db, sql: "SELECT nonce, ciphertext FROM token_versions")!
            return (row["nonce"] as Data, row["ciphertext"] as Data)
        }
        try f2.raw().write { db in try db.execute(sql: "UPDATE token_versions SET nonce = ?, ciphertext = ?", arguments: [nonce, ct]) }
        #expect(throws: VaultError.stateTampered(name: "a", reason: Self.stateReason)) { try f2.unlocked().reveal("a") }
        try resealState(try f2.unlocked(), "a")
        #expect(throws: VaultError.authenticationFailed(name: "a", version: 1)) { try f2.unlocked().reveal("a") }
    }

    @Test("a wrong passphrase is refused and audited as a failed unlock")
    func wrongPassphrase() throws {
        let f = Fixture()
        _ = try f.create()
        #expect(throws: VaultError.wrongPassphrase) { try f.open().unlock(passphrase: secure("not it")) }
        let last = try f.open().auditEntries(AuditQuery()).last!
        #expect(last.action == "unlock" && last.outcome == "error" && last.reason == "wrong passphrase" && !last.sealed)
    }

    @Test("tampered KDF parameters are refused before any KDF work", arguments: [
        ("kdf_mem", Int64(8 * 1024 * 1024 * 1024)), ("kdf_ops", 100_000), ("kdf_ops", 0), ("kdf_mem", 1024),
    ])
    func tamperedKDF(column: String, value: Int64) throws {
        let f = Fixture()
        _ = try f.create()
        try f.raw().write { db in try db.execute(sql: "UPDATE vault_header SET \(column) = ?", arguments: [value]) }
        #expect {
            try f.open().unlock(passphrase: secure("pass phrase"))
        } throws: { error in
            if case .unsafeKDFParameters = error as? VaultError { return true }
            return false
        }
    }

    @Test("a modified salt or wrapped key reads as a wrong passphrase (the wrap authenticates)")
    func tamperedWrap() throws {
        for column in ["kdf_salt", "wrap_nonce", "wrapped_key", "vault_id"] {
            let f = Fixture()
            _ = try f.create()
            try f.raw().write { db in
                let b = try Data.fetchOne(db, sql: "SELECT \(column) FROM vault_header")!
                var bytes = [UInt8](b); bytes[bytes.count - 1] ^= 0x01
                try db.execute(sql: "UPDATE vault_header SET \(column) = ?", arguments: [Data(bytes)])
            }
            #expect(throws: VaultError.wrongPassphrase, "\(column)") { try f.unlocked() }
        }
    }

    @Test("KDF bounds: accepted and rejected parameter sets")
    func kdfBounds() {
        #expect(throws: Never.self) { try KDFParameters(opsLimit: 1, memLimit: 8192).validate() }
        #expect(throws: Never.self) { try KDFParameters.moderate.validate() }
        #expect(throws: Never.self) { try KDFParameters(opsLimit: 4, memLimit: 4 << 30).validate() }
        #expect(throws: (any Error).self) { try KDFParameters(opsLimit: 5, memLimit: 4 << 30).validate() }
        #expect(throws: (any Error).self) { try KDFParameters(opsLimit: 257, memLimit: 8192).validate() }
        #expect(throws: (any Error).self) { try KDFParameters(opsLimit: 1, memLimit: 8193).validate() }
        #expect(KDFParameters.moderate == KDFParameters(opsLimit: 3, memLimit: 256 << 20))
        #expect(testKDF.isBelowInteractive && !KDFParameters.moderate.isBelowInteractive)
    }

    @Test("subkeys are distinct, deterministic and differ from the master key")
    func subkeys() {
        let m = MasterKey.generate()
        let t1 = m.subkey(context: MasterKey.tokenContext), t2 = m.subkey(context: MasterKey.tokenContext)
        let a = m.subkey(context: MasterKey.auditContext)
        let same = t1.constantTimeEquals(t2), auditDiffers = !t1.constantTimeEquals(a), masterDiffers = !t1.constantTimeEquals(m.key)
        #expect(same)
        #expect(auditDiffers)
        #expect(masterDiffers)
    }

    @Test("SecureBytes appends, truncates with zeroing and compares")
    func secureBytes() {
        var b = SecureBytes(capacity: 8, empty: true)
        b.append("abc"); b.append(0x64)
        #expect(string(b) == "abcd")
        b.removeLast(2)
        #expect(string(b) == "ab" && b.count == 2)
        let equal = b.constantTimeEquals(secure("ab")), differs = !b.constantTimeEquals(secure("ac"))
        #expect(equal && differs)
    }
}

@Suite("Process hardening")
struct HardeningTests {
    @Test("after apply() the process is not dumpable, its core limit is 0 and its umask is 077")
    func hardening() {
        ProcessHardening.apply()
        #expect(!ProcessHardening.isDumpable)
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_CORE.rawValue), &limit)
        #expect(limit.rlim_cur == 0)
        let mask = umask(0o077)
        #expect(mask == 0o077)
    }
}

@Suite("Token metadata MAC")
struct MetadataMACTests {
    func populated() throws -> Fixture {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("prod", token: secure("eyJ.prod"), metadata: TokenMetadata(region: .eu), expires: nil)
        try u.add("test", token: secure("eyJ.test"), metadata: TokenMetadata(region: .us), expires: nil)
        return f
    }

    @Test("a base URL changed outside v1vault stops every use of the token")
    func redirectedBaseURL() throws {
        let f = try populated()
        try f.raw().write { db in try db.execute(sql: "UPDATE tokens SET base_url = 'https://attacker.example', region = NULL WHERE name = 'prod'") }
        let u = try f.unlocked()
        #expect(throws: VaultError.metadataTampered(name: "prod")) { try u.reveal("prod") }
        #expect(throws: VaultError.metadataTampered(name: "prod")) { try u.rotate("prod", token: secure("eyJ.new"), expires: nil) }
        #expect(string(try u.reveal("test").secret) == "eyJ.test")
    }

    @Test("swapped names are detected")
    func swappedNames() throws {
        let f = try populated()
        try f.raw().write { db in
            try db.execute(sql: "UPDATE tokens SET name = 'tmp' WHERE name = 'prod'")
            try db.execute(sql: "UPDATE tokens SET name = 'prod' WHERE name = 'test'")
            try db.execute(sql: "UPDATE tokens SET name = 'test' WHERE name = 'tmp'")
        }
        #expect(throws: VaultError.metadataTampered(name: "prod")) { try f.unlocked().reveal("prod") }
    }

    @Test("a removed MAC fails closed, and doctor --seal-metadata refuses to vouch: the audit log shows it was sealed before")
    func removedMAC() throws {
        let f = try populated()
        try f.raw().write { db in try db.execute(sql: "UPDATE tokens SET meta_mac = NULL, base_url = 'https://attacker.example' WHERE name = 'prod'") }
        let u = try f.unlocked()
        #expect(throws: VaultError.metadataUnsealed(name: "prod")) { try u.reveal("prod") }
        // Further unlocked writes do not silently re-seal it.
        _ = try u.reveal("test")
        #expect(throws: VaultError.metadataUnsealed(name: "prod")) { try u.reveal("prod") }
        let (sealed, refused) = try u.sealLegacyMetadata()
        #expect(sealed.isEmpty && refused.map(\.name) == ["prod"])
        #expect(refused.first?.why.hasPrefix("the audit log shows its MACs were sealed before (audit row ") == true, "\(refused)")
        #expect(try u.sealLegacyState().isEmpty)
        #expect(throws: VaultError.metadataUnsealed(name: "prod")) { try u.reveal("prod") }
    }

    @Test("laundering a forged state: MACs stripped, a retired version made current — doctor's vouching refuses, export stays closed")
    func strippedState() throws {
        let f = try populated()
        let u0 = try f.unlocked()
        _ = try u0.rotate("prod", token: secure("eyJ.prod.v2"), expires: nil)
        try f.raw().write { db in
            try db.execute(sql: "UPDATE tokens SET meta_mac = NULL, state_mac = NULL, state_seq = NULL WHERE name = 'prod'")
            try db.execute(sql: "UPDATE token_versions SET retired_at = 1 WHERE version = 2 AND token_id = (SELECT id FROM tokens WHERE name = 'prod')")
            try db.execute(sql: "UPDATE token_versions SET retired_at = NULL WHERE version = 1 AND token_id = (SELECT id FROM tokens WHERE name = 'prod')")
        }
        let u = try f.unlocked()
        let (sealed, refused) = try u.sealLegacyMetadata()
        #expect(sealed.isEmpty && refused.map(\.name) == ["prod"])
        #expect(try u.sealLegacyState().isEmpty)
        #expect(throws: VaultError.metadataUnsealed(name: "prod")) { try u.reveal("prod") }
    }

    @Test("vouching: only a token added before the upgrade and never sealed since; renamed, linked or sealed ones are refused")
    func vouchRules() {
        typealias R = LegacyVouch.Row
        let rows = [R(seq: 1, action: "init", names: [], stateMarked: false), R(seq: 2, action: "add", names: ["legacy"], stateMarked: false),
                    R(seq: 3, action: "add", names: ["linked"], stateMarked: false), R(seq: 4, action: "reveal", names: ["legacy"], stateMarked: false),
                    R(seq: 5, action: "seal-state", names: [], stateMarked: true), R(seq: 6, action: "add", names: ["new"], stateMarked: true),
                    R(seq: 7, action: "rename", names: ["new", "renamed"], stateMarked: true), R(seq: 8, action: "add", names: ["late"], stateMarked: false)]
        let v = LegacyVouch.verdicts(candidates: ["legacy", "linked", "new", "renamed", "late", "stranger"], rows: rows, schema5: ["linked"])
        #expect(v["legacy"] == .some(nil))
        #expect(v["linked"]??.hasPrefix("it has a console link") == true)
        #expect(v["new"]??.hasPrefix("the audit log shows its MACs were sealed before (audit row 6)") == true)
        #expect(v["renamed"]??.hasPrefix("the audit log shows its MACs were sealed before (audit row 7)") == true)
        #expect(v["late"]??.hasPrefix("the audit log has no record of it from before the upgrade") == true)
        #expect(v["stranger"]??.hasPrefix("the audit log has no record") == true)
    }
}
