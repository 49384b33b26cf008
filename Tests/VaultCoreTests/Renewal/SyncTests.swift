import Foundation
import Testing
@testable import VaultCore
@testable import VaultFormat

@Suite("sync against an in-memory console: hand rotations, a last use that does not move (in process)")
struct SyncTests {
    /// A manager and a token `siem` stored without a link, then rotated by hand to a key made in
    /// the console: v1 holds console key `lone` (its name), v2 holds `lone-2`.
    func handRotated(lazy: Bool) throws -> (RenewalFixture, InMemoryConsole.Key, InMemoryConsole.Key) {
        let f = try RenewalFixture()
        f.console.lazyLastUsed = lazy
        let k1 = f.console.seed(name: "lone", role: "SIEM", expires: f.clock.now.addingTimeInterval(30 * 86400))
        let k2 = f.console.seed(name: "lone-2", role: "SIEM", expires: f.clock.now.addingTimeInterval(365 * 86400))
        try f.vault.add("lone", token: secure(k1.value), metadata: TokenMetadata(region: nil, baseURL: f.console.baseURL, role: "SIEM"), expires: k1.expires)
        f.clock.advance(days: 1)
        _ = try f.vault.rotate("lone", token: secure(k2.value), expires: k2.expires)
        return (f, k1, k2)
    }

    func findings(_ r: SyncReport, _ kind: SyncReport.Finding.Kind) -> [SyncReport.Finding] { r.findings.filter { $0.kind == kind } }

    @Test("after a hand rotation the name match is only proposed; --apply does not link v2 to v1's key, says why, and does not propose it again")
    func handRotation() throws {
        let (f, k1, k2) = try handRotated(lazy: false)
        let first = try f.vault.sync(apply: false, console: f.factory)
        let proposed = try #require(findings(first, .linkProposed).first { $0.name == "lone" })
        #expect(proposed.consoleID == k1.id && proposed.version == 2 && proposed.message.contains("a name alone proves nothing"))
        // Console keys no link names are not called lost while versions here are unlinked.
        let unknown = findings(first, .notInVault).filter { [k1.id, k2.id].contains($0.consoleID ?? "") }
        #expect(unknown.count == 2 && unknown.allSatisfy { $0.message.contains("2 versions here name no console key (lone v1, lone v2), so it may hold one of them") })
        let applied = try f.vault.sync(apply: true, console: f.factory)
        let refused = try #require(findings(applied, .linkProposed).first { $0.name == "lone" })
        #expect(!refused.applied && refused.message.hasPrefix("not linked: using its stored value did not (yet) move lone's last use"), "\(refused.message)")
        #expect(refused.message.hasSuffix("if you know it is that key, `vault edit lone --console-id \(k1.id) --console-name=lone --role=SIEM` links it"))
        #expect(try f.token("lone").current.console.id == nil)
        let again = try f.vault.sync(apply: true, console: f.factory)
        #expect(findings(again, .linkProposed).filter { $0.name == "lone" }.isEmpty)
        let unlinked = try #require(findings(again, .unlinked).first { $0.name == "lone" })
        #expect(unlinked.message.hasPrefix("version 2 is not linked to a console key; lone (\(k1.id)) was checked"), "\(unlinked.message)")
    }

    @Test("a key whose last use never moves (lazy): nothing is linked, nothing is called a different key")
    func lazyLastUse() throws {
        let f = try RenewalFixture()
        f.console.lazyLastUsed = true
        let k = f.console.seed(name: "jenkins", role: "SIEM", expires: f.clock.now.addingTimeInterval(365 * 86400))
        try f.vault.add("jenkins", token: secure(k.value), metadata: TokenMetadata(region: nil, baseURL: f.console.baseURL), expires: k.expires)
        let applied = try f.vault.sync(apply: true, console: f.factory)
        let finding = try #require(findings(applied, .linkProposed).first { $0.name == "jenkins" })
        #expect(!finding.applied)
        #expect(!finding.message.contains("different key"))
        #expect(finding.message.contains("that proves nothing either way"))
    }

    @Test("with a last use that moves, --apply links the key and takes its role and expiry")
    func confirms() throws {
        let f = try RenewalFixture()
        let k = f.console.seed(name: "jenkins", role: "SIEM", expires: f.clock.now.addingTimeInterval(200 * 86400))
        try f.vault.add("jenkins", token: secure(k.value), metadata: TokenMetadata(region: nil, baseURL: f.console.baseURL), expires: nil)
        let applied = try f.vault.sync(apply: true, console: f.factory)
        #expect(findings(applied, .linkProposed).first { $0.name == "jenkins" }?.applied == true)
        let t = try f.token("jenkins")
        #expect(t.current.console.id == k.id && t.role == "SIEM" && t.current.expires == k.expires)
    }
}
