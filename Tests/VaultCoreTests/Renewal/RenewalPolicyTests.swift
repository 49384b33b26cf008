import Foundation
import Testing
@testable import VaultCore
@testable import VaultFormat

@Suite("when a key is due, which role the new key gets, and what happens to keys nobody may hold (in process)")
struct RenewalPolicyTests {
    // MARK: - Due means due

    static let day: TimeInterval = 86400

    func version(lifetimeDays: Double, leftDays: Double, now: Date) -> VersionSnapshot {
        VersionSnapshot(version: 1, created: now.addingTimeInterval(-(lifetimeDays - leftDays) * Self.day),
                        expires: now.addingTimeInterval(leftDays * Self.day), retired: nil, console: ConsoleLink())
    }

    @Test("due when the remaining life is at most a fifteenth of the lifetime (at least 2 days), capped by the window; a fresh key is never due",
          arguments: [(30.0, 2.1, false), (30.0, 2.0, true), (30.0, 29.0, false), (90.0, 6.1, false), (90.0, 6.0, true),
                      (180.0, 12.0, true), (180.0, 12.5, false), (365.0, 24.3, true), (365.0, 24.4, false), (10.0, 2.0, true), (10.0, 2.1, false)])
    func dueRule(lifetime: Double, left: Double, due: Bool) throws {
        let now = try #require(Timestamp.parseDate("2027-03-01T03:00:00Z"))
        #expect(RenewalPlanner.isDue(version(lifetimeDays: lifetime, leftDays: left, now: now), window: try DurationSpec.parse("30d"), now: now) == due)
    }

    @Test("a window smaller than the margin caps it; a key that never expires is never due")
    func window() throws {
        let now = try #require(Timestamp.parseDate("2027-03-01T03:00:00Z"))
        #expect(!RenewalPlanner.isDue(version(lifetimeDays: 365, leftDays: 8, now: now), window: try DurationSpec.parse("7d"), now: now))
        #expect(RenewalPlanner.isDue(version(lifetimeDays: 365, leftDays: 7, now: now), window: try DurationSpec.parse("7d"), now: now))
        let never = VersionSnapshot(version: 1, created: now, expires: nil, retired: nil, console: ConsoleLink())
        #expect(!RenewalPlanner.isDue(never, window: try DurationSpec.parse("100y"), now: now))
    }

    @Test("a renewed one-month key is not due again the next day (the renewal loop), nor until its last two days")
    func noLoop() throws {
        let f = try RenewalFixture(lifetimeDays: 30, daysLeft: 2)
        #expect(try f.due("30d").items.filter { $0.kind == .renewed }.count == 1)
        var renewedOn: [Int] = []
        for d in 1...40 {
            f.clock.advance(days: 1)
            if try f.due("30d").items.contains(where: { $0.kind == .renewed }) { renewedOn.append(d) }
        }
        // Renewed Feb 12 (12:00) for one calendar month: expires Mar 12, due 2 days before — day 26.
        #expect(renewedOn == [26])
    }

    // MARK: - Roles

    @Test("a legacy Master Administrator key: the console refuses the role, the report says how to fix it, nothing is disabled or deleted")
    func legacyRole() throws {
        let f = try RenewalFixture(role: "Master Administrator")
        let item = try #require(try f.renew().items.first)
        #expect(item.kind == .failed)
        #expect(item.message.hasPrefix("the console refused to create a key with the role Master Administrator (HTTP 400 BadRequest): since 2025-10-27 new API keys cannot have that role; give the key a custom role that may be assigned to API keys (Administration > User Roles): `vault renew siem --role ROLE`, or `vault edit siem --role ROLE` then `vault renew siem`; nothing was created, disabled or deleted"), "\(item.message)")
        #expect(f.console.live.count == 2 && f.console.key(f.siemID)?.status == "enabled" && f.intents == 0)
        // --role: the new key gets it, and the vault stores it.
        let renewed = try #require(try f.renew { $0.role = "SIEM Reader" }.items.first)
        #expect(renewed.kind == .renewed, "\(renewed.message)")
        #expect(f.console.key(named: renewed.consoleName!)?.role == "SIEM Reader")
        #expect(try f.token().role == "SIEM Reader")
    }

    @Test("vault edit --role names the successor of a legacy Master Administrator key; any other mismatch is refused")
    func editedRole() throws {
        let f = try RenewalFixture(role: "Master Administrator")
        try f.vault.edit("siem", TokenEdit(role: .some("SIEM Reader")))
        let item = try #require(try f.renew().items.first)
        #expect(item.kind == .renewed && f.console.key(named: item.consoleName!)?.role == "SIEM Reader", "\(item.message)")

        let g = try RenewalFixture(role: "SIEM")
        try g.vault.edit("siem", TokenEdit(role: .some("Auditor")))
        let refused = try #require(try g.renew().items.first)
        #expect(refused.kind == .failed && refused.message == "console key siem-console has the role SIEM, but the vault says Auditor: if it is the right key, `vault edit siem --role=SIEM`, or give the new key a role with `vault renew siem --role ROLE`; nothing changed")
        #expect(g.console.live.count == 2 && g.intents == 0)
    }

    // MARK: - Keys that may be in use


    @Test("a backup taken during a renewal and put back afterwards never disables the live new key: it was used")
    func restoredBackupUsedKey() throws {
        let f = try RenewalFixture()
        // A long grace period: the old key stays enabled, so only the new key's use tells.
        let (copy, item) = try f.renewWithBackup(disableAfter: 30 * 86400)
        try f.switchTo(copyAt: copy)
        let restored = try f.token().current.version
        #expect(f.intents == 1 && restored == 1)
        try f.daily(disableAfter: 30 * 86400)
        let live = try #require(f.console.key(named: item.consoleName!))
        #expect(live.status == "enabled" && !live.deleted)
        #expect(f.intents == 0)
    }

    @Test("…nor when Vision One shows no use yet: the key the restored vault holds is disabled, so the renewal finished elsewhere")
    func restoredBackupLazyLastUse() throws {
        let f = try RenewalFixture()
        f.console.lazyLastUsed = true
        let (copy, item) = try f.renewWithBackup(disableAfter: 0)
        try f.switchTo(copyAt: copy)
        f.clock.advance(days: 1)
        let report = try f.due("30d")
        let left = try #require(report.items.first { $0.consoleName == item.consoleName })
        #expect(left.kind == .skipped && left.message.contains("is disabled in the console while this one is enabled: the renewal looks finished by another copy"), "\(left.message)")
        try f.daily()
        #expect(f.console.key(named: item.consoleName!)?.status == "enabled")
    }

    @Test("…nor within the grace period on a console that shows no use: the key waits a week, and by then the old one is disabled")
    func restoredBackupDuringGrace() throws {
        let f = try RenewalFixture()
        f.console.lazyLastUsed = true
        // The replaced vault's next run disables the old key after the grace period (as its timer would have).
        let (copy, item) = try f.finishedRenewalWithBackup()
        try f.switchTo(copyAt: copy)
        try f.daily(disableAfter: 86400)
        #expect(f.console.key(named: item.consoleName!)?.status == "enabled")
    }

    @Test("an intent marked verify-only by a restore: its key is reported and left alone, whatever else")
    func verifyOnly() throws {
        let f = try RenewalFixture()
        f.console.lazyLastUsed = true
        let (copy, item) = try f.renewWithBackup(disableAfter: 86400)
        try f.switchTo(copyAt: copy)
        let intent = try #require(try f.vault.intents().first)
        try f.vault.record("restore", details: ["verify_only": "\(intent.id)"])
        f.clock.advance(days: 8)
        let left = try #require(try f.due("30d").items.first { $0.consoleName == item.consoleName })
        #expect(left.kind == .skipped && left.message.contains("this vault was restored from a copy taken while that renewal ran"), "\(left.message)")
        #expect(f.console.key(named: item.consoleName!)?.status == "enabled" && f.intents == 0)
    }

    @Test("a crash after the create: the unused key is kept a week, then disabled and deleted")
    func crashOrphan() throws {
        let f = try RenewalFixture()
        f.console.inject(.lostAnswer, on: .create)
        f.console.inject(.timeout, on: .list)        // the same run cannot look for it
        let first = try #require(try f.renew().items.first)
        #expect(first.kind == .failed && f.intents == 1)
        let orphan = try #require(f.console.live.first { $0.name.hasPrefix("siem-console-v1v") })
        f.clock.advance(days: 1)
        let waiting = try f.renew { $0.names = []; $0.due = nil }
        #expect(waiting.items.map(\.kind) == [.skipped] && waiting.items[0].message.contains("shows no use: kept until"), "\(waiting.items)")
        f.clock.advance(days: 6.1)
        let removed = try f.renew { $0.names = []; $0.due = nil }
        #expect(removed.items.map(\.kind) == [.orphanRemoved], "\(removed.items)")
        #expect(f.console.key(orphan.id)?.deleted == true && f.intents == 0)
    }

    @Test("a key with the planned name that is not this renewal's (a year-old one, another expiry) is never touched", arguments: [false, true])
    func notThisIntentsKey(showsCreated: Bool) throws {
        let f = try RenewalFixture()
        f.console.showsCreated = showsCreated
        f.console.inject(.timeout, on: .create)
        _ = try f.renew()
        let intent = try #require(try f.vault.intents().first)
        // Someone's key, made long ago, happens to carry the planned name.
        f.clock.advance(days: -400)
        let old = f.console.seed(name: intent.plannedName, role: "SIEM", expires: f.clock.now.addingTimeInterval(2 * 365 * 86400))
        f.clock.advance(days: 400 + 8)
        let report = try f.renew { $0.names = []; $0.due = nil }
        let item = try #require(report.items.first)
        #expect(item.kind == .skipped, "\(report.items)")
        #expect(item.message.contains(showsCreated ? "before that renewal began" : "is not what that renewal asked for"), "\(item.message)")
        #expect(f.console.key(old.id)?.status == "enabled" && f.console.key(old.id)?.deleted == false)
    }
}
