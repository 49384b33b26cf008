import Foundation
import GRDB
import Testing
@testable import VaultCore
@testable import VaultFormat

@Suite("Sessions: payload binding, lengths, unlock from the kernel keyring")
struct SessionTests {
    @Test("session lengths: 1s to 12h in s, m or h", arguments: [("1s", 1), ("90s", 90), ("15m", 900), ("12h", 43_200), ("720M", 43_200)])
    func lengths(text: String, seconds: Int) throws {
        #expect(try Session.parseDuration(text) == UInt32(seconds))
    }

    @Test("lengths outside 1s-12h or without a unit are usage errors", arguments: ["0s", "43201s", "13h", "721m", "15", "1.5h", "", "m", "15d", "9999999s"])
    func badLengths(text: String) {
        #expect(throws: VaultError.self) { try Session.parseDuration(text) }
        #expect((try? Session.parseDuration(text)) == nil)
    }

    @Test("the payload binds the KEK to the vault id and the salt; anything else is stale")
    func payloadBinding() throws {
        let id = Array(repeating: UInt8(1), count: 16), salt = Array(repeating: UInt8(2), count: 16)
        let expires = Date(timeIntervalSince1970: 1_900_000_000)
        let kek = secure(String(repeating: "k", count: 32))
        let p = Session.payload(vaultID: id, salt: salt, expires: expires, kek: kek)
        #expect(p.count == 80)
        guard case .success(let parsed) = Session.parse(p, vaultID: id, salt: salt) else { Issue.record("did not parse"); return }
        #expect(parsed.expires == expires && parsed.kek.constantTimeEquals(kek))
        func reason(_ r: consuming Result<Session.Parsed, Session.Stale>) -> String? {
            switch consume r {
            case .failure(let s): return s.reason
            case .success: return nil
            }
        }
        #expect(reason(Session.parse(p, vaultID: id, salt: Array(repeating: 3, count: 16)))?.contains("another passphrase or KDF salt") == true)
        #expect(reason(Session.parse(p, vaultID: Array(repeating: 9, count: 16), salt: salt)) == "the cached key is for another vault")
        var bad = SecureBytes(capacity: 80)
        p.withUnsafeBytes { src in bad.withUnsafeMutableBytes { $0.copyMemory(from: src) } }
        bad.withUnsafeMutableBytes { $0[0] = UInt8(ascii: "X") }
        #expect(reason(Session.parse(bad, vaultID: id, salt: salt)) == "the cached key is not a v1vault session")
        bad.removeLast()
        #expect(reason(Session.parse(bad, vaultID: id, salt: salt)) == "the cached key has the wrong size")
    }

    /// Whether this machine's kernel keyring takes keys (a container's seccomp profile may block
    /// the keyctl system calls): decides which of the two tests below runs, each skip visible.
    static let keyringAvailable = (try? KernelKeyring.checkAvailable()) != nil

    @Test("in process: unlock from a session, audited as such; the payload's own expiry is enforced; lock ends it",
          .enabled(if: keyringAvailable, "the kernel keyring is unavailable here (seccomp blocks keyctl): sessionUnavailableFallsBack runs instead"))
    func inProcess() throws {
        let f = Fixture()
        let v = try f.create()
        try f.unlocked().add("k", token: secure("eyJ.in.process"), metadata: TokenMetadata(), expires: nil)
        let info = try v.startSession(passphrase: secure("pass phrase"), seconds: 600)
        #expect(info.expires == fixedStart.addingTimeInterval(600))
        let u = try #require(try f.open().unlockFromSession())
        #expect(u.session == info)
        #expect(string(try u.reveal("k").secret) == "eyJ.in.process")
        let rows = try f.raw().read { db in try String.fetchAll(db, sql: "SELECT details FROM audit_log WHERE action = 'reveal'") }
        #expect(rows.last?.contains(#""session":"keyring""#) == true)
        #expect(throws: VaultError.wrongPassphrase) { try v.startSession(passphrase: secure("nope"), seconds: 60) }
        // The kernel timer still runs, but the payload says it ended: not used, and dropped.
        f.clock.advance(days: 601.0 / 86400)
        #expect(try f.open().unlockFromSession() == nil)
        #expect(try f.open().sessionStatus() == .locked)
        // A fresh one, then lock.
        _ = try v.startSession(passphrase: secure("pass phrase"), seconds: 60)
        guard case .unlocked = try v.sessionStatus() else { Issue.record("not unlocked"); return }
        #expect(try v.lock())
        #expect(try v.sessionStatus() == .locked)
        #expect(try v.lock() == false)
    }

    @Test("without a kernel keyring: unlock says so (sessionUnavailable; the CLI's exit 19) and nothing unlocks from a session",
          .enabled(if: !keyringAvailable, "the kernel keyring works here: inProcess tests the session itself"))
    func sessionUnavailableFallsBack() throws {
        let f = Fixture()
        let v = try f.create()
        #expect {
            _ = try v.startSession(passphrase: secure("pass phrase"), seconds: 600)
        } throws: { error in
            guard let e = error as? VaultError, case .sessionUnavailable = e else { return false }
            return true
        }
        #expect(try v.unlockFromSession() == nil)
    }

    @Test("a vault unlocked before another process's rekey, passwd or kdf set writes nothing after it (keysChanged), and the chain stays intact",
          arguments: ["rekey", "passwd"])
    func keysChangedMeanwhile(change: String) throws {
        let f = Fixture()
        _ = try f.create()
        let early = try f.unlocked()
        try early.add("k", token: secure("eyJ.before"), metadata: TokenMetadata(), expires: nil)
        let other = try f.unlocked()
        if change == "rekey" {
            _ = try other.rekey(passphrase: secure("new phrase"), parameters: testKDF)
        } else {
            try other.rewrap(passphrase: secure("new phrase"), parameters: testKDF)
        }
        #expect(throws: VaultError.keysChanged) { try early.add("k2", token: secure("eyJ.after"), metadata: TokenMetadata(), expires: nil) }
        #expect(throws: VaultError.keysChanged) { try early.reveal("k") }
        let now = try f.open().unlock(passphrase: secure("new phrase"))
        #expect(try now.verifyAudit().problem == nil)
        #expect(string(try now.reveal("k").secret) == "eyJ.before")
        #expect(throws: VaultError.tokenNotFound(name: "k2")) { try now.reveal("k2") }
    }
}
