import Foundation
import GRDB
import Testing
@testable import VaultCore
@testable import VaultFormat
@testable import VaultStorage

@Suite("Rotation and history")
struct RotationTests {
    func versions(_ f: Fixture) throws -> [Int] {
        try f.raw().read { db in try Int.fetchAll(db, sql: "SELECT version FROM token_versions ORDER BY version") }
    }

    @Test("rotation keeps exactly the newest N versions and destroys the rest")
    func keepN() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("k", token: secure("t1"), metadata: TokenMetadata(), expires: nil)
        for i in 2...6 {
            let r = try u.rotate("k", token: secure("t\(i)"), expires: nil, keep: 3)
            #expect(r.current.version == i && r.previous.version == i - 1)
        }
        #expect(try versions(f) == [4, 5, 6])
        #expect(string(try u.reveal("k").secret) == "t6")
        #expect(throws: VaultError.versionNotFound(name: "k", version: 1)) { try u.reveal("k", version: 1) }
        let last = try u.rotate("k", token: secure("t7"), expires: nil, keep: 3)
        #expect(last.pruned == [4])
    }

    @Test("the default keeps 10 versions")
    func defaultKeep() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("k", token: secure("t0"), metadata: TokenMetadata(), expires: nil)
        for i in 1...12 { _ = try u.rotate("k", token: secure("t\(i)"), expires: nil) }
        #expect(try versions(f) == Array(4...13))
    }

    @Test("old versions still open after rotation; history is newest first with states")
    func historyAndOldVersions() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("k", token: secure("first"), metadata: TokenMetadata(), expires: fixedStart.addingTimeInterval(100 * 86400))
        f.clock.advance(days: 1)
        _ = try u.rotate("k", token: secure("second"), expires: nil)
        #expect(string(try u.reveal("k", version: 1).secret) == "first")
        #expect(string(try u.reveal("k").secret) == "second")
        let h = try f.open().history("k")
        #expect(h.map(\.version) == [2, 1])
        #expect(h.map(\.state) == ["current", "retired"])
        #expect(h[1].retired == fixedStart.addingTimeInterval(86400))
        #expect(h[0].expires == nil && h[1].expires == fixedStart.addingTimeInterval(100 * 86400))
    }

    @Test("rotating to the current token is refused and changes nothing")
    func identical() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("k", token: secure("same"), metadata: TokenMetadata(), expires: nil)
        #expect(throws: VaultError.identicalToken(name: "k")) { try u.rotate("k", token: secure("same"), expires: nil) }
        #expect(try versions(f) == [1])
    }

    @Test("rollback makes an old secret current as a new version; history is kept")
    func rollback() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("k", token: secure("a"), metadata: TokenMetadata(), expires: nil)
        _ = try u.rotate("k", token: secure("b"), expires: nil)
        let r = try u.rollback("k", to: 1)
        #expect(r.current.version == 3 && r.previous.version == 2)
        #expect(string(try u.reveal("k").secret) == "a")
        #expect(try versions(f) == [1, 2, 3])
        #expect(throws: VaultError.invalidInput(reason: "version 3 of k is already current", hint: nil)) { try u.rollback("k", to: 3) }
        #expect(throws: VaultError.versionNotFound(name: "k", version: 9)) { try u.rollback("k", to: 9) }
    }

    @Test("a failure at any point mid-rotation leaves the old version current", arguments: [
        "rotate.retired", "rotate.inserted", "rotate.beforeCommit",
    ])
    func injectedFailure(point: String) throws {
        struct Boom: Error {}
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("k", token: secure("old"), metadata: TokenMetadata(), expires: nil)
        let before = try f.raw().read { db in try Row.fetchAll(db, sql: "SELECT * FROM token_versions") }
        u.faultInjection = { if $0 == point { throw Boom() } }
        #expect(throws: (any Error).self) { try u.rotate("k", token: secure("new"), expires: nil) }
        u.faultInjection = nil
        #expect(try f.raw().read { db in try Row.fetchAll(db, sql: "SELECT * FROM token_versions") } == before)
        #expect(string(try u.reveal("k").secret) == "old")
        let failed = try f.open().auditEntries(AuditQuery(action: "rotate")).last!
        #expect(failed.outcome == "error")
    }

    @Test("remove deletes every version")
    func remove() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("k", token: secure("a"), metadata: TokenMetadata(), expires: nil)
        _ = try u.rotate("k", token: secure("b"), expires: nil)
        try u.remove("k")
        #expect(try versions(f).isEmpty)
        #expect(throws: VaultError.tokenNotFound(name: "k")) { try u.reveal("k") }
        #expect(secure_delete(f) == 1)
    }

    func secure_delete(_ f: Fixture) -> Int {
        (try? f.open().store.read { db in try Int.fetchOne(db, sql: "PRAGMA secure_delete") ?? 0 }) ?? 0
    }

    @Test("add refuses a duplicate name and invalid tokens")
    func addRules() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        try u.add("k", token: secure("a"), metadata: TokenMetadata(), expires: nil)
        #expect(throws: VaultError.tokenExists(name: "k")) { try u.add("k", token: secure("b"), metadata: TokenMetadata(), expires: nil) }
        #expect(throws: VaultError.invalidToken(reason: "empty input")) { try u.add("e", token: secure(""), metadata: TokenMetadata(), expires: nil) }
        #expect(throws: VaultError.invalidToken(reason: "contains whitespace at byte 2")) { try u.add("e", token: secure("a b"), metadata: TokenMetadata(), expires: nil) }
    }
}

@Suite("Expiry")
struct ExpiryTests {
    @Test("expiring lists expired and soon-expiring current versions, soonest first")
    func expiring() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        let day = 86400.0
        try u.add("later", token: secure("a"), metadata: TokenMetadata(), expires: fixedStart.addingTimeInterval(200 * day))
        try u.add("soon", token: secure("b"), metadata: TokenMetadata(), expires: fixedStart.addingTimeInterval(20 * day))
        try u.add("sooner", token: secure("c"), metadata: TokenMetadata(), expires: fixedStart.addingTimeInterval(5 * day))
        try u.add("never", token: secure("d"), metadata: TokenMetadata(), expires: nil)
        let v = try f.open()
        #expect(try v.expiring(within: DurationSpec(amount: 30, unit: .days)).map(\.name) == ["sooner", "soon"])
        f.clock.advance(days: 10)
        let due = try v.expiring(within: DurationSpec(amount: 30, unit: .days))
        #expect(due.map(\.name) == ["sooner", "soon"])
        #expect(ExpiryStatus.of(expires: due[0].current.expires, now: f.clock.now) == .expired)
        // A rotated-away version does not count.
        _ = try u.rotate("sooner", token: secure("c2"), expires: nil)
        #expect(try v.expiring(within: DurationSpec(amount: 30, unit: .days)).map(\.name) == ["soon"])
    }

    @Test("an expired version is refused unless allowed; an expiring one warns")
    func revealRules() throws {
        let f = Fixture()
        _ = try f.create()
        let u = try f.unlocked()
        let expires = fixedStart.addingTimeInterval(10 * 86400)
        try u.add("k", token: secure("a"), metadata: TokenMetadata(), expires: expires)
        // A 10-day key warns in the last third of its life, not from its first day.
        #expect(try u.reveal("k").warning == nil)
        f.clock.advance(days: 6.5)
        #expect(try u.reveal("k").warning == nil)
        f.clock.advance(days: 0.6)
        #expect(try u.reveal("k").warning == "token k version 1 expires in 2 days (2026-01-25)")
        f.clock.advance(days: 3.9)
        #expect(throws: VaultError.tokenExpired(name: "k", version: 1, expired: expires)) { try u.reveal("k") }
        #expect(string(try u.reveal("k", allowExpired: true).secret) == "a")
    }

    @Test("V1VAULT_WARN_DAYS-style threshold changes what counts as expiring")
    func warnDays() throws {
        let f = Fixture()
        _ = try f.create()
        try f.unlocked().add("k", token: secure("a"), metadata: TokenMetadata(), expires: fixedStart.addingTimeInterval(400 * 86400))
        f.clock.advance(days: 350)  // 50 days left; a third of the lifetime is 133 days
        let v = try Vault.open(at: f.path, clock: f.clock.clock, actor: .test, warnDays: 60)
        #expect(try v.unlock(passphrase: secure("pass phrase")).reveal("k").warning != nil)
        #expect(try f.unlocked().reveal("k").warning == nil)  // default 30 days
        // The window is the smaller of the two: a 30-day key warns in its last 10 days.
        #expect(ExpiryStatus.window(expires: fixedStart.addingTimeInterval(30 * 86400), created: fixedStart, warnDays: 30) == 10 * 86400)
        #expect(ExpiryStatus.window(expires: fixedStart.addingTimeInterval(365 * 86400), created: fixedStart, warnDays: 30) == 30 * 86400)
        #expect(ExpiryStatus.window(expires: fixedStart.addingTimeInterval(365 * 86400), created: nil, warnDays: 7) == 7 * 86400)
    }

    @Test("status and days left")
    func status() {
        let now = fixedStart
        #expect(ExpiryStatus.of(expires: nil, now: now) == .never)
        #expect(ExpiryStatus.of(expires: now, now: now) == .expired)
        #expect(ExpiryStatus.of(expires: now.addingTimeInterval(30 * 86400), now: now) == .expiring)
        #expect(ExpiryStatus.of(expires: now.addingTimeInterval(30 * 86400 + 1), now: now) == .ok)
        #expect(ExpiryStatus.daysLeft(expires: now.addingTimeInterval(1.5 * 86400), now: now) == 1)
        #expect(ExpiryStatus.daysLeft(expires: now.addingTimeInterval(-0.5 * 86400), now: now) == -1)
    }
}
