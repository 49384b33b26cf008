import Foundation
import Testing

@Suite("vault rotate / history / rollback / expiring (out of process)")
struct RotationCLITests {
    @Test("rotate prints the console follow-up, keeps history, and refuses an identical token")
    func rotate() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "first-token", "--expires", day(200))
        let r = c.run("rotate", "--force", "k", "--expires", "never", stdin: "second-token\n")
        #expect(r.status == 0, "\(r)")
        #expect(r.out == "rotated k: version 2 is current, expires never; version 1 retired\n")
        #expect(r.stderr == "hint: delete or disable the old key (version 1) in the Vision One console (Administration > API Keys); it expires on \(day(200))\n")
        let same = c.run("rotate", "--force", "k", stdin: "second-token")
        #expect(same.status == 13 && same.stderr.hasPrefix("error: the new token is identical to the current version of k\n"))
        let history = try JSONSerialization.jsonObject(with: c.run("history", "k", "--json").stdout) as! [[String: Any]]
        #expect(history.map { $0["version"] as! Int } == [2, 1])
        #expect(history.map { $0["state"] as! String } == ["current", "retired"])
        let old = c.run("show", "k", "--version", "1", "--reveal")
        #expect(old.status == 0 && old.out.hasSuffix("token            first-token\n"), "\(old)")
        #expect(c.run("show", "k", "--reveal").out.hasSuffix("token            second-token\n"))
        let audit = c.audit(action: "rotate")
        #expect(audit.count == 2 && audit[0]["outcome"] as? String == "ok" && audit[1]["outcome"] as? String == "error")
    }

    @Test("rotate without --expires keeps the lifetime the key had (not the 1-year default); never stays never")
    func sameLifetime() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k30", "t1", "--expires", "30d")
        let r = c.run("rotate", "--force", "k30", stdin: "t2")
        #expect(r.status == 0 && r.out.contains("version 2 is current, expires \(day(30))"), "\(r)")
        try c.add("forever", "t1", "--expires", "never")
        let n = c.run("rotate", "--force", "forever", stdin: "t2")
        #expect(n.status == 0 && n.out.contains("expires never"), "\(n)")
        #expect((c.audit(action: "rotate").first?["details"] as? [String: String])?["expiry"] == "same lifetime")
        // An explicit --expires still wins.
        #expect(c.run("rotate", "--force", "k30", "--expires", "1y", stdin: "t3").out.contains("expires \(day(365))"))
    }

    @Test("after rotate, files exported from the old version are named; rollback warns that the old console key may be gone")
    func staleExports() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.v1")
        let file = c.dir + "/k.env"
        #expect(c.run("export", "k", "--format", "dotenv", "-o", file).status == 0)
        let r = c.run("rotate", "--force", "k", stdin: "eyJ.v2")
        #expect(r.status == 0 && r.stderr.contains("warning: \(file) was exported from version 1 and still holds the old key: export it again, or delete it"), "\(r)")
        // Exports of the new version, and files since deleted, are not named.
        try FileManager.default.removeItem(atPath: file)
        #expect(c.run("export", "k", "--format", "dotenv", "-o", file).status == 0)
        try FileManager.default.removeItem(atPath: file)
        let quiet = c.run("rotate", "--force", "k", stdin: "eyJ.v3")
        #expect(quiet.status == 0 && !quiet.stderr.contains("was exported"), "\(quiet)")
        // A relative -o path is recorded absolute, so it is found from anywhere.
        let rel = runProgram("/bin/sh", ["-c", "cd \"$1\" && \"$2\" export k --format dotenv -o rel.env", "_", c.dir, CLI.binary], env: c.env)
        #expect(rel.status == 0)
        let afterRel = c.run("rotate", "--force", "k", stdin: "eyJ.v4")
        #expect(afterRel.stderr.contains("warning: \(c.dir)/rel.env was exported from version 3"), "\(afterRel)")
        let back = c.run("rollback", "k", "--to", "1")
        #expect(back.status == 0 && back.stderr.contains("warning: version 1 was replaced by a rotation: if its key was deleted or disabled in the Vision One console"), "\(back)")
    }

    @Test("rotate --keep destroys versions beyond N")
    func keep() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "t1")
        for i in 2...4 { #expect(c.run("rotate", "--force", "k", "--keep", "2", stdin: "t\(i)").status == 0) }
        let history = try JSONSerialization.jsonObject(with: c.run("history", "k", "--json").stdout) as! [[String: Any]]
        #expect(history.map { $0["version"] as! Int } == [4, 3])
        let bad = c.run("rotate", "--force", "k", "--keep", "0", stdin: "t5")
        #expect(bad.status == 64 && bad.stderr.hasPrefix("error: --keep must be between 1 and 1000"))
        // Refused before the token or passphrase is read: no stdin, no passphrase source at all.
        for args in [["rotate", "k", "--keep", "0"], ["rollback", "k", "--to", "3", "--keep", "1001"]] {
            let early = c.run(args, stdin: nil, env: ["V1VAULT_PASSPHRASE_FILE": nil])
            #expect(early.status == 64 && early.stderr.hasPrefix("error: --keep must be between 1 and 1000"), "\(args): \(early)")
        }
    }

    @Test("rollback restores an old secret as a new version and is audited")
    func rollback() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "alpha")
        _ = c.run("rotate", "--force", "k", stdin: "beta")
        let r = c.run("rollback", "k", "--to", "1")
        #expect(r.status == 0 && r.out.hasPrefix("rolled back k: version 3 (secret of version 1) is current"), "\(r)")
        #expect(c.run("show", "k", "--reveal").out.hasSuffix("token            alpha\n"))
        #expect(c.run("rollback", "k", "--to", "7").status == 9)
        #expect(c.audit(action: "rollback").first?["outcome"] as? String == "ok")
    }

    @Test("expiring exits 0 / 10 / 11 and lists soonest first")
    func expiringExitCodes() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("far", "t1", "--expires", day(300))
        try c.add("none", "t2", "--expires", "never")
        let quiet = c.run("expiring")
        #expect(quiet.status == 0 && quiet.out.isEmpty, "\(quiet)")
        try c.add("soon", "t3", "--expires", day(20))
        try c.add("sooner", "t4", "--expires", day(5))
        let due = c.run("expiring", "--within", "30d")
        #expect(due.status == 10, "\(due)")
        let names = due.out.split(separator: "\n").dropFirst().map { $0.split(separator: " ")[0] }
        #expect(names == ["sooner", "soon"])
        #expect(c.run("expiring", "--within", "400d").status == 10)
        // Age one token past its expiry (the binary reads the real clock; move the data instead).
        try c.sql("UPDATE token_versions SET expires_at = strftime('%s','now') - 86400 WHERE token_id = (SELECT id FROM tokens WHERE name = 'far')")
        let expired = c.run("expiring", "--within", "30d", "--json")
        #expect(expired.status == 11, "\(expired)")
        let json = try JSONSerialization.jsonObject(with: expired.stdout) as! [[String: Any]]
        #expect(json.map { $0["name"] as! String } == ["far", "sooner", "soon"])
        // Without --within each key has its own window (a third of a short lifetime): the
        // 5- and 20-day keys, on their first day, are not due.
        let own = c.run("expiring", "--json")
        let ownNames = (try JSONSerialization.jsonObject(with: own.stdout) as! [[String: Any]]).map { $0["name"] as! String }
        #expect(own.status == 11 && ownNames == ["far"], "\(own)")
        #expect(json[0]["status"] as? String == "expired" && (json[0]["days_left"] as? Int ?? 0) < 0)
        #expect(c.run("expiring", "--within", "nonsense").status == 64)
    }

    @Test("list shows ok / expiring / expired / never")
    func listStatus() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a-ok", "t1", "--expires", day(100))
        try c.add("b-expiring", "t2", "--expires", day(10))
        try c.add("c-expired", "t3", "--expires", day(10))
        try c.add("d-never", "t4", "--expires", "never")
        try c.sql("UPDATE token_versions SET expires_at = strftime('%s','now') - 10 WHERE token_id = (SELECT id FROM tokens WHERE name = 'c-expired')")
        let rows = c.run("list").out.split(separator: "\n").dropFirst().map { $0.split(separator: " ").last.map(String.init) }
        // A 10-day key on its first day is not "expiring" (its window is a third of its
        // lifetime); the moment it is, is tested in process with a clock (RotationTests).
        #expect(rows == ["ok", "ok", "expired", "never"])
    }

    @Test("revealing an expired token is refused unless --allow-expired; a short-lived key does not warn from its first day")
    func expiryOnReveal() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("soon", "t-soon", "--expires", day(10))
        try c.add("old", "t-old", "--expires", day(100))
        // Expires four seconds from now (an expiry can no longer be edited into the file: the
        // state MAC covers it; VersionStateCLITests proves that edit fails closed).
        let f = ISO8601DateFormatter()
        let shortExpiry = Date().addingTimeInterval(4)
        try c.add("brief", "t-brief", "--expires", f.string(from: shortExpiry))
        // A 10-day key does not warn from its first day (the window scales with the lifetime;
        // the warning itself is tested in process with a clock).
        let fresh = c.run("show", "soon", "--reveal")
        #expect(fresh.status == 0 && fresh.stderr.isEmpty, "\(fresh)")
        #expect(c.run("show", "old", "--reveal").stderr.isEmpty)
        #expect(c.run("show", "old", "--reveal", env: ["V1VAULT_WARN_DAYS": "120"]).stderr.isEmpty)
        #expect(c.run("list", env: ["V1VAULT_WARN_DAYS": "lots"]).status == 64)
        while Date() < shortExpiry.addingTimeInterval(1) { usleep(100_000) }
        let refused = c.run("show", "brief", "--reveal")
        #expect(refused.status == 15 && refused.stderr.hasPrefix("error: token brief version 1 expired on "), "\(refused)")
        #expect(!refused.out.contains("t-brief"))
        let exportRefused = c.run("export", "brief")
        #expect(exportRefused.status == 15 && exportRefused.out == "false\n")
        let allowed = c.run("show", "brief", "--reveal", "--allow-expired")
        #expect(allowed.status == 0 && allowed.out.contains("t-brief") && allowed.stderr.contains("warning: token brief version 1 expired on"))
        let reveals = c.audit(action: "reveal")
        #expect(reveals.map { $0["outcome"] as! String }.suffix(2) == ["error", "ok"])
    }
}
