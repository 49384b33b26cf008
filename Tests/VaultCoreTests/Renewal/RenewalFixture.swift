import Foundation
import Testing
@testable import VaultCore
@testable import VaultFormat

struct FixtureError: Error, CustomStringConvertible { var description: String }

/// A vault with a manager key `mgr` and a linked token `siem`, against an in-memory console,
/// on a test clock shared by both.
final class RenewalFixture {
    let base = Fixture()
    let console: InMemoryConsole
    private(set) var vault: UnlockedVault
    var clock: TestClock { base.clock }
    let siemID: String
    let siemValue: String

    /// `siem` has a lifetime of `lifetimeDays` (stored when it was made) and `daysLeft` left.
    init(lifetimeDays: Double = 90, daysLeft: Double = 5, role: String = "SIEM", managerRole: String = "API Keys Manager",
         restrictionFields: [String] = []) throws {
        _ = try base.create()
        console = InMemoryConsole(clock: base.clock)
        vault = try base.unlocked()
        let start = base.clock.now
        let m = console.seed(name: "mgr-console", role: managerRole, value: console.managerValue, expires: start.addingTimeInterval(365 * 86400))
        try vault.add("mgr", token: secure(m.value), metadata: TokenMetadata(region: nil, baseURL: console.baseURL, role: managerRole),
                      expires: m.expires, console: ConsoleLink(id: m.id, name: m.name, state: .enabled))
        _ = try vault.setManager("mgr", expectedBaseURL: nil)
        let expires = start.addingTimeInterval(lifetimeDays * 86400)
        let s = console.seed(name: "siem-console", role: role, expires: expires, description: "splunk", restrictionFields: restrictionFields)
        try vault.add("siem", token: secure(s.value), metadata: TokenMetadata(region: nil, baseURL: console.baseURL, role: role, description: "splunk"),
                      expires: expires, console: ConsoleLink(id: s.id, name: s.name, state: .enabled))
        siemID = s.id
        siemValue = s.value
        base.clock.advance(days: lifetimeDays - daysLeft)
    }

    /// Replaces the vault with a copy of it (a backup put back by hand): from now on the
    /// fixture works on the copy at `path`, against the same console.
    func switchTo(copyAt path: String) throws {
        vault = try Vault.open(at: path, clock: base.clock.clock, actor: .test).unlock(passphrase: secure("pass phrase"))
    }

    /// Renews `siem` and, while its create call is under way, takes a backup of the vault — as
    /// `vault backup` or a nightly copy would. Returns the backup's path and the renewal's item.
    func renewWithBackup(disableAfter: TimeInterval) throws -> (String, RenewReport.Item) {
        let copy = base.dir.file("backup.db")
        let base = self.base
        console.onCreate = { _ = try? base.open().backup(to: copy) }
        defer { console.onCreate = nil }
        guard let item = try renew({ $0.disableAfter = disableAfter }).items.first, item.kind == .renewed,
              FileManager.default.fileExists(atPath: copy) else {
            throw FixtureError(description: "the renewal with a backup under way did not renew")
        }
        return (copy, item)
    }

    /// A renewal that finished in this vault while a backup of it was taken mid-create, and the
    /// vault's next run after the 1-day grace period, which disabled the old key: the state a
    /// backup put back afterwards meets. Returns the backup's path and the renewal's item.
    func finishedRenewalWithBackup() throws -> (String, RenewReport.Item) {
        let (copy, item) = try renewWithBackup(disableAfter: 86400)
        clock.advance(days: 1.1)
        _ = try due("30d") { $0.disableAfter = 86400 }
        guard console.key(siemID)?.status == "disabled" else { throw FixtureError(description: "the old key was not disabled after the grace period") }
        return (copy, item)
    }

    /// `days` daily runs of `renew --due 30d` (with `disableAfter`), a day apart; their report lines.
    @discardableResult
    func daily(_ days: Int = 10, disableAfter: TimeInterval = 0) throws -> [String] {
        var lines: [String] = []
        for _ in 0..<days {
            clock.advance(days: 1)
            lines += try due("30d") { $0.disableAfter = disableAfter }.items.map { "\($0.kind): \($0.message)" }
        }
        return lines
    }

    var factory: ConsoleFactory { { [console] _, _, _ in console } }

    /// `renew siem` (or what `edit` makes of the request): no verify retries, no grace.
    func renew(_ edit: (inout RenewRequest) -> Void = { _ in }) throws -> RenewReport {
        var r = RenewRequest()
        r.names = ["siem"]
        r.verifyTimeout = 0
        r.disableAfter = 0
        edit(&r)
        return try vault.renew(r, console: factory)
    }

    func due(_ window: String = "30d", _ edit: (inout RenewRequest) -> Void = { _ in }) throws -> RenewReport {
        try renew { r in r.names = []; r.due = try? DurationSpec.parse(window); edit(&r) }
    }

    func token(_ name: String = "siem") throws -> LinkedToken {
        let (tokens, broken) = try vault.linkedTokens()
        if let b = broken.first { throw FixtureError(description: "\(b.0): \(b.1)") }
        guard let t = tokens.first(where: { $0.name == name }) else { throw FixtureError(description: "no token \(name)") }
        return t
    }

    func currentValue(_ name: String = "siem") throws -> String {
        string(try vault.reveal(name, allowExpired: true).secret)
    }

    var intents: Int { (try? vault.intents().count) ?? -1 }

    /// Enabled console keys that no version of the vault links: values nobody holds.
    func enabledOrphans() throws -> [String] {
        let linked = Set(try vault.linkedTokens().tokens.flatMap { $0.versions.compactMap(\.console.id) })
        return console.live.filter { $0.status == "enabled" && !linked.contains($0.id) }.map(\.name)
    }
}
