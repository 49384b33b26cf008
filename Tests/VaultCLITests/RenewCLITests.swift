import Foundation
import Testing

extension FakeVisionOne {
    /// Calls the fake's control API (`/_fake/…`, docs/FAKE-VISIONONE.md) and returns its JSON.
    @discardableResult
    func control(_ method: String, _ path: String, _ body: Any? = nil) -> Any {
        let payload = body.map { String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) } ?? ""
        let script = """
            import json, sys, urllib.request
            data = sys.argv[3].encode() if sys.argv[3] else None
            req = urllib.request.Request(sys.argv[1], data=data, method=sys.argv[2], headers={"Content-Type": "application/json"})
            print(urllib.request.urlopen(req, timeout=10).read().decode())
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, baseURL + path, method, payload]
        p.environment = ["PATH": "/usr/bin:/bin", "no_proxy": "*"]
        let out = Pipe()
        p.standardOutput = out
        try! p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        precondition(p.terminationStatus == 0, "control \(method) \(path) failed")
        return try! JSONSerialization.jsonObject(with: data)
    }

    /// Seeds a console key; returns (id, value).
    func seed(_ fields: [String: Any]) -> (id: String, value: String) {
        let k = control("POST", "/_fake/keys", fields) as! [String: Any]
        return (k["id"] as! String, k["value"] as! String)
    }

    /// Every key the fake ever held, deleted ones included, by name.
    var keys: [String: [String: Any]] {
        let state = control("GET", "/_fake/state") as! [String: Any]
        return Dictionary((state["keys"] as! [[String: Any]]).map { ($0["name"] as! String, $0) }, uniquingKeysWith: { _, b in b })
    }

    var requestCounts: [String: Int] { (control("GET", "/_fake/state") as! [String: Any])["requests"] as? [String: Int] ?? [:] }
}

/// `vault manager`, `renew`, `sync` and console links, against the stateful fake.
@Suite("vault manager / renew / sync against a fake Vision One (out of process)")
struct RenewCLITests {
    /// A vault with a manager key `mgr` and a linked token `siem` expiring in `siemDays` days.
    func setUp(siemDays: Int = 20) -> (CLI, FakeVisionOne, siemID: String) {
        let c = CLI.initialized()
        let server = FakeVisionOne(dir: c.dir)
        let m = server.seed(["name": "mgr-console", "role": "Master Administrator"])
        let expiry = Timestamp(Date().addingTimeInterval(TimeInterval(siemDays) * 86400))
        let s = server.seed(["name": "siem-console", "role": "SIEM", "description": "splunk", "expiredDateTime": expiry])
        c.add("mgr", m.value, "--base-url", server.baseURL, "--expires", "1y", "--console-id", m.id, "--console-name", "mgr-console",
              "--role", "Master Administrator")
        c.add("siem", s.value, "--base-url", server.baseURL, "--expires", "\(siemDays)d", "--console-id", s.id, "--console-name", "siem-console",
              "--role", "SIEM")
        let r = c.run("manager", "set", "mgr")
        precondition(r.status == 0, "\(r)")
        return (c, server, s.id)
    }

    func Timestamp(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }

    func sha256(_ s: String) -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let i = Pipe(), o = Pipe()
        p.standardInput = i; p.standardOutput = o
        try! p.run()
        i.fileHandleForWriting.write(Data(s.utf8)); try? i.fileHandleForWriting.close()
        let out = String(decoding: o.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return String(out.prefix(64))
    }

    func history(_ c: CLI, _ name: String) throws -> [[String: Any]] {
        let r = c.run("history", name, "--json")
        precondition(r.status == 0, "\(r)")
        return try JSONSerialization.jsonObject(with: r.stdout) as! [[String: Any]]
    }

    @Test("manager set/show/unset: one per base URL, region checked, flag covered by the metadata MAC")
    func manager() throws {
        let c = CLI.initialized()
        defer { c.cleanup() }
        c.add("a", "eyJ.a", "--region", "eu")
        c.add("b", "eyJ.b", "--region", "eu")
        #expect(c.run("manager", "show").status == 28)
        let wrong = c.run("manager", "set", "a", "--region", "us")
        #expect(wrong.status == 64 && wrong.stderr.contains("error: a belongs to https://api.eu.xdr.trendmicro.com, not https://api.xdr.trendmicro.com"), "\(wrong)")
        #expect(c.run("manager", "set", "a", "--region", "eu").status == 0)
        let replaced = c.run("manager", "set", "b", "--json")
        #expect(replaced.status == 0 && replaced.out.contains(#""replaced":"a""#), "\(replaced)")
        let shown = c.run("manager", "show", "--json")
        #expect(shown.status == 0 && shown.out == #"[{"name":"b","base_url":"https://api.eu.xdr.trendmicro.com","region":"eu"}]"# + "\n", "\(shown)")
        #expect(c.audit(action: "edit").contains { ($0["details"] as? [String: String])?["manager"] == "set" })
        // Moving the mark outside v1vault breaks the metadata MAC of both rows.
        try c.sql("UPDATE tokens SET manager = 0 WHERE name = 'b'; UPDATE tokens SET manager = 1 WHERE name = 'a'")
        let tampered = c.run("export", "a", "--format", "raw")
        #expect(tampered.status == 14 && tampered.out.isEmpty, "\(tampered)")
    }

    @Test("renew: creates, seals, verifies, switches, disables the old key; a later run deletes it; the value is the console's")
    func renewHappyPath() throws {
        let (c, server, oldID) = setUp()
        defer { c.cleanup() }
        let before = server.requestCounts
        let dry = c.run("renew", "--due", "30d", "--dry-run")
        #expect(dry.status == 0 && dry.out.contains("plan: siem: would create a key with the role the console gives siem-console"), "\(dry)")
        let after = server.requestCounts
        #expect(after.filter { $0.key.hasPrefix("POST") || $0.key.hasPrefix("PATCH") } == before.filter { $0.key.hasPrefix("POST") || $0.key.hasPrefix("PATCH") },
                "dry-run wrote: \(before) → \(after)")

        let r = c.run("renew", "--due", "30d", "--json")
        #expect(r.status == 0, "\(r)")
        let all = try JSONSerialization.jsonObject(with: r.stdout) as! [[String: Any]]
        #expect(all.contains { $0["name"] as? String == "mgr" && $0["result"] as? String == "not-due" })
        let items = all.filter { $0["result"] as? String != "not-due" }
        #expect(items.count == 1 && items[0]["result"] as? String == "renewed" && items[0]["to_version"] as? Int == 2, "\(items)")
        let newName = try #require(items[0]["console_name"] as? String)
        #expect(newName.hasPrefix("siem-console-v1v"))
        let keys = server.keys
        #expect(keys["siem-console"]?["status"] as? String == "disabled")
        #expect(keys[newName]?["status"] as? String == "enabled" && keys[newName]?["role"] as? String == "SIEM"
                && keys[newName]?["description"] as? String == "splunk")
        // The stored value is exactly the one the console created.
        let value = c.run("export", "siem", "--format", "raw")
        #expect(value.status == 0)
        #expect(sha256(value.out.trimmingCharacters(in: .newlines)) == keys[newName]?["value_sha256"] as? String)
        #expect(!r.out.contains(value.out.trimmingCharacters(in: .newlines)) && !r.stderr.contains("eyJ"))
        // Nor in the audit log, nor anywhere in the vault file or its directory but sealed.
        #expect(!c.run("audit", "--json").out.contains("eyJ"))
        for file in try FileManager.default.contentsOfDirectory(atPath: c.dir) where !file.hasSuffix(".jsonl") {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: c.dir + "/" + file))) ?? Data()
            #expect(bytes.range(of: Data(value.out.trimmingCharacters(in: .newlines).utf8)) == nil, "\(file) holds the new key")
        }
        let h = try history(c, "siem")
        #expect(h[0]["version"] as? Int == 2 && h[0]["state"] as? String == "current" && h[0]["console_name"] as? String == newName)
        #expect(h[1]["console_id"] as? String == oldID && h[1]["console_state"] as? String == "disabled")
        // Audited before and after every console write, in that order.
        let actions = c.audit(action: "console-create").map { $0["seq"] as! Int } + c.audit(action: "console-disable").map { $0["seq"] as! Int }
        #expect(actions.count == 2)
        #expect(c.audit(action: "manager-use").count == 1)  // --dry-run reveals no key
        #expect(c.run("renew", "--due", "30d").status == 26)  // nothing due now
        // --delete-after 0d: the disabled old key is deleted by the next run.
        let cleanup = c.run("renew", "--due", "1d", "--delete-after", "0d")
        #expect(cleanup.status == 0 && cleanup.out.contains("deleted-old: siem"), "\(cleanup)")
        #expect(server.keys["siem-console"]?["deleted"] as? Bool == true)
        #expect(try history(c, "siem")[1]["console_state"] as? String == "deleted")
        let sync = c.run("sync")
        #expect(sync.status == 0, "\(sync)")
    }

    @Test("renew refuses an unlinked token (exit 25) and a base URL without a manager (exit 25, nothing called)")
    func unlinkedAndNoManager() throws {
        let c = CLI.initialized()
        defer { c.cleanup() }
        let server = FakeVisionOne(dir: c.dir)
        c.add("lone", "eyJ.lone", "--base-url", server.baseURL)
        let unlinked = c.run("renew", "lone")
        #expect(unlinked.status == 25 && unlinked.stderr.contains("not linked to a console key"), "\(unlinked)")
        try #require(c.run("edit", "lone", "--console-id", "0000-1111").status == 0)
        let noManager = c.run("renew", "lone")
        #expect(noManager.status == 25 && noManager.stderr.contains("no manager key for \(server.baseURL)"), "\(noManager)")
        #expect(server.requests.isEmpty)
        #expect(c.run("renew", "missing").status == 9)
        #expect(c.run("renew").status == 64)
    }

    @Test("a failed create leaves the old version current and no enabled orphan; an unknown outcome keeps the intent, a definite refusal drops it and deletes nothing")
    func createFails() throws {
        let (c, server, _) = setUp()
        defer { c.cleanup() }
        server.control("POST", "/_fake/faults", ["kind": "status", "method": "POST", "path": "/v3.0/iam/apiKeys", "status": 500, "count": 1])
        let r = c.run("renew", "siem")
        #expect(r.status == 25 && r.stderr.contains("creating siem-console-v1v") && r.stderr.contains("HTTP 500"), "\(r)")
        #expect(r.stderr.contains("the intent stays and the next runs look again"), "\(r)")
        #expect(try history(c, "siem").count == 1)
        #expect(server.keys["siem-console"]?["status"] as? String == "enabled")
        // A 5xx may still have created the key: the intent stays for a day.
        #expect(try c.rows("SELECT CAST(count(*) AS TEXT) FROM renewal_intents") == ["1"])
        #expect(c.audit(action: "console-create-result").first?["outcome"] as? String == "error")
        let watching = c.run("renew", "--due", "1h")
        #expect(watching.status == 0 && watching.out.contains("skipped:"), "\(watching)")
        // A definite 400 (say the planned name is taken by someone else's key): nothing deleted.
        let taken = server.seed(["name": "someone-elses", "role": "SIEM"])
        server.control("POST", "/_fake/faults", ["kind": "status", "method": "POST", "path": "/v3.0/iam/apiKeys", "status": 400, "count": 1])
        let refused = c.run("renew", "siem")
        #expect(refused.status == 25 && refused.stderr.contains("HTTP 400") && refused.stderr.contains("no key was created; intent dropped"), "\(refused)")
        #expect(server.keys["someone-elses"]?["status"] as? String == "enabled")
        _ = taken
    }

    @Test("after a rollback two versions share a console key: renew never disables or deletes the current one's")
    func rollbackSharesKey() throws {
        let (c, server, siemID) = setUp()
        defer { c.cleanup() }
        let other = server.seed(["name": "siem-new", "role": "SIEM"])
        let rotated = c.run(["rotate", "siem", "--console-id", other.id, "--console-name", "siem-new"], stdin: Data(other.value.utf8))
        #expect(rotated.status == 0, "\(rotated)")
        #expect(c.run("rollback", "siem", "--to", "1").status == 0)
        #expect(c.run("renew", "--due", "1h").status == 0)
        #expect(c.run("renew", "--due", "1h", "--delete-after", "0d").status == 0)
        #expect(server.keys["siem-console"]?["status"] as? String == "enabled" && server.keys["siem-console"]?["deleted"] as? Bool == false)
        #expect(c.run("check", "siem").status == 0)
        _ = siemID
    }

    @Test("links are one key per token; a link whose console name changed is not renewed; odd ids are refused")
    func linkSafety() throws {
        let (c, server, siemID) = setUp()
        defer { c.cleanup() }
        let mgrID = try #require(server.keys["mgr-console"]?["id"] as? String)
        let shared = c.run("edit", "siem", "--console-id", mgrID)
        #expect(shared.status == 64 && shared.stderr.contains("console key \(mgrID) is already linked to mgr"), "\(shared)")
        let copy = c.run(["add", "siem-copy", "--base-url", server.baseURL, "--console-id", siemID, "--force"], stdin: Data("eyJ.copy.x".utf8))
        #expect(copy.status == 64, "\(copy)")
        #expect(c.run("show", "siem-copy").status == 9)   // refused as a whole: nothing stored
        #expect(c.run("edit", "siem", "--console-id", "..").status == 64)
        // A link without a console name cannot be checked: renew refuses it.
        let alice = server.seed(["name": "alice-admin", "role": "Master Administrator"])
        c.add("ci", "eyJ.ci.x", "--base-url", server.baseURL, "--console-id", alice.id)
        let unnamed = c.run("renew", "ci")
        #expect(unnamed.status == 25 && unnamed.stderr.contains("has no console name to check it by"), "\(unnamed)")
        #expect(server.keys["alice-admin"]?["status"] as? String == "enabled")
        // Nor one without a role to check it by (a new key would get the console key's role).
        #expect(c.run("edit", "ci", "--console-name", "alice-admin").status == 0)
        let roleless = c.run("renew", "ci")
        #expect(roleless.status == 25 && roleless.stderr.contains("has no role in the vault to check the console key by"), "\(roleless)")
        // A stored role other than the console key's stops it too.
        #expect(c.run("edit", "ci", "--role", "SIEM").status == 0)
        let otherRole = c.run("renew", "ci")
        #expect(otherRole.status == 25 && otherRole.stderr.contains("has the role Master Administrator, but the vault says SIEM"), "\(otherRole)")
        #expect(server.keys["alice-admin"]?["status"] as? String == "enabled")
        server.control("POST", "/_fake/keys/\(siemID)", ["name": "renamed-in-console"])
        let renamed = c.run("renew", "siem")
        #expect(renamed.status == 25 && renamed.stderr.contains("is named renamed-in-console, but the vault linked it as siem-console"), "\(renamed)")
        #expect(server.keys.keys.filter { $0.hasPrefix("renamed-in-console-v1v") || $0.hasPrefix("siem-console-v1v") }.isEmpty)
        // sync --apply never takes the expiry of a key whose console name differs.
        server.control("POST", "/_fake/keys/\(siemID)", ["expiredDateTime": "2030-01-01T00:00:00Z"])
        func expiry() -> String? {
            let out = c.run("show", "siem", "--json").out
            return out.range(of: #""expires":"[^"]*""#, options: .regularExpression).map { String(out[$0]) }
        }
        let before = try #require(expiry())
        let synced = c.run("sync", "--apply")
        #expect(synced.status == 27 && synced.out.contains("not applied: the console's name for this key differs"), "\(synced)")
        #expect(expiry() == before)
    }

    @Test("a key enabled again in the console is not deleted by the clean-up")
    func reenabledNotDeleted() throws {
        let (c, server, siemID) = setUp()
        defer { c.cleanup() }
        #expect(c.run("renew", "siem").status == 0)
        server.control("POST", "/_fake/keys/\(siemID)", ["status": "enabled"])
        let r = c.run("renew", "--due", "1h", "--delete-after", "0d")
        #expect(r.status == 0 && r.out.contains("was enabled again in the console: not deleted"), "\(r)")
        #expect(server.keys["siem-console"]?["deleted"] as? Bool == false)
    }

    @Test("a malicious create answer — the manager's value, a far-off expiry — is refused before it is stored; the key is removed")
    func hostileCreateAnswer() throws {
        let (c, server, _) = setUp()
        defer { c.cleanup() }
        // The fake's clock 40 days ahead: its answer's expiry is 40 days off what was asked.
        server.control("POST", "/_fake/config", ["now": Timestamp(Date().addingTimeInterval(40 * 86400))])
        let r = c.run("renew", "siem")
        #expect(r.status == 25 && r.stderr.contains("the answer's expiry is not 1 month from now"), "\(r)")
        #expect(try history(c, "siem").count == 1)
        #expect(server.keys.filter { $0.key.hasPrefix("siem-console-v1v") }.values.allSatisfy { $0["deleted"] as? Bool == true })
    }

    @Test("the create's response lost after the console made the key: the orphan is disabled and deleted, the old version stays")
    func responseLost() throws {
        let (c, server, _) = setUp()
        defer { c.cleanup() }
        server.control("POST", "/_fake/faults", ["kind": "drop-after", "method": "POST", "path": "/v3.0/iam/apiKeys", "count": 1])
        let r = c.run("renew", "siem")
        #expect(r.status == 25, "\(r)")
        let orphans = server.keys.filter { $0.key.hasPrefix("siem-console-v1v") }
        #expect(orphans.count == 1 && orphans.values.allSatisfy { $0["deleted"] as? Bool == true }, "\(orphans)")
        #expect(try history(c, "siem").count == 1)
        #expect(try c.rows("SELECT CAST(count(*) AS TEXT) FROM renewal_intents") == ["0"])
        // The next run renews normally.
        #expect(c.run("renew", "siem").status == 0)
    }

    @Test("a new key that never passes the connectivity check is disabled; the old version stays current")
    func verifyFails() throws {
        let (c, server, _) = setUp()
        defer { c.cleanup() }
        server.control("POST", "/_fake/config", ["propagation_ms": 60_000])
        let r = c.run("renew", "siem", "--verify-timeout", "1s")
        #expect(r.status == 25 && r.stderr.contains("did not pass the connectivity check"), "\(r)")
        let h = try history(c, "siem")
        #expect(h.count == 2 && h[0]["state"] as? String == "retired" && h[0]["console_state"] as? String == "disabled")
        #expect(h[1]["state"] as? String == "current")
        let created = server.keys.filter { $0.key.hasPrefix("siem-console-v1v") }.values
        #expect(created.count == 1 && created.allSatisfy { $0["status"] as? String == "disabled" })
        #expect(server.keys["siem-console"]?["status"] as? String == "enabled")
        // A propagation delay within the timeout is waited out.
        server.control("POST", "/_fake/config", ["propagation_ms": 700])
        #expect(c.run("renew", "siem", "--verify-timeout", "20s").status == 0)
    }

    @Test("a planted renewal intent (no valid MAC) is never acted on: the console key with its name stays")
    func plantedIntent() throws {
        let (c, server, _) = setUp()
        defer { c.cleanup() }
        _ = server.seed(["name": "prod-connector", "role": "SIEM"])
        try c.sql("INSERT INTO renewal_intents (token_id, planned_name, base_url, created_at, mac) VALUES (1, 'prod-connector', '\(server.baseURL)', 1, zeroblob(32))")
        let r = c.run("renew", "--due", "1d")
        #expect(r.status == 25 && r.stderr.contains("renewal intent 1 failed authentication"), "\(r)")
        #expect(server.keys["prod-connector"]?["status"] as? String == "enabled")
        #expect(server.keys["prod-connector"]?["deleted"] as? Bool == false)
        let doctor = c.run("doctor")
        #expect(doctor.status == 21 && doctor.out.contains("intent 1 fails authentication"), "\(doctor)")
    }

    @Test("an authentic intent row copied back after it was resolved (a replay) is refused; the key with its name stays",
          .enabled(if: CLI.binary.contains("/debug/"), "needs the debug build's V1VAULT_DEBUG_KILL_AT"))
    func replayedIntent() throws {
        let (c, server, _) = setUp()
        defer { c.cleanup() }
        let killed = c.run("renew", "siem", env: ["V1VAULT_DEBUG_KILL_AT": "renew.created"])
        #expect(killed.signaled, "\(killed)")
        let row = try c.rows("SELECT quote(id) || ',' || quote(token_id) || ',' || quote(planned_name) || ',' || quote(base_url) || ',' || quote(created_at) || ',' || quote(mac) FROM renewal_intents")
        try #require(row.count == 1)
        let planned = try #require(server.keys.keys.first { $0.hasPrefix("siem-console-v1v") })
        let next = c.run("renew", "--due", "1h")
        #expect(next.status == 0 && next.out.contains("orphan-removed"), "\(next)")
        #expect(server.keys[planned]?["deleted"] as? Bool == true)
        // Someone later makes a key with that name; the old intent row is put back.
        _ = server.seed(["name": planned, "role": "SIEM"])
        try c.sql("INSERT INTO renewal_intents (id, token_id, planned_name, base_url, created_at, mac) VALUES (\(row[0]))")
        let replay = c.run("renew", "--due", "1h")
        #expect(replay.status == 25 && replay.stderr.contains("was resolved before (audit log): a replayed row"), "\(replay)")
        #expect(server.keys[planned]?["deleted"] as? Bool == false && server.keys[planned]?["status"] as? String == "enabled")
    }

    @Test("SIGKILL at each step of renew, then renew again: old or new version current, its console key enabled, no orphan",
          .enabled(if: CLI.binary.contains("/debug/"), "needs the debug build's V1VAULT_DEBUG_KILL_AT"))
    func killAtEachStep() throws {
        for point in ["renew.intent", "renew.created", "renew.sealed", "renew.verified", "renew.promoted", "renew.disabled"] {
            let (c, server, _) = setUp()
            defer { c.cleanup() }
            let killed = c.run("renew", "siem", env: ["V1VAULT_DEBUG_KILL_AT": point])
            #expect(killed.signaled, "\(point): \(killed)")
            let again = c.run("renew", "--due", "1h")
            #expect(again.status == 0 || again.status == 26, "\(point): \(again)")
            let h = try history(c, "siem")
            let current = try #require(h.first { $0["state"] as? String == "current" })
            let keys = server.keys.values
            let byID = Dictionary(keys.map { ($0["id"] as! String, $0) }, uniquingKeysWith: { a, _ in a })
            #expect(byID[current["console_id"] as! String]?["status"] as? String == "enabled", "\(point)")
            let linked = Set(h.compactMap { $0["console_id"] as? String } + [byID.values.first { $0["name"] as? String == "mgr-console" }!["id"] as! String])
            #expect(keys.filter { $0["status"] as? String == "enabled" && $0["deleted"] as? Bool == false }.allSatisfy { linked.contains($0["id"] as! String) },
                    "\(point): an enabled orphan: \(keys)")
            #expect(c.run("check", "siem").status == 0, "\(point)")
            // Past the seal, the run that was killed still renews: the second run finishes it.
            let renewed = h.count > 1 && (current["version"] as? Int) == 2
            #expect(renewed == ["renew.sealed", "renew.verified", "renew.promoted", "renew.disabled"].contains(point), "\(point): \(h)")
        }
    }

    @Test("an intent row deleted from the file is rebuilt from the audit log and its orphan removed; rekey keeps intents valid",
          .enabled(if: CLI.binary.contains("/debug/"), "needs the debug build's V1VAULT_DEBUG_KILL_AT"))
    func deletedIntentAndRekey() throws {
        let (c, server, _) = setUp()
        defer { c.cleanup() }
        #expect(c.run("renew", "siem", env: ["V1VAULT_DEBUG_KILL_AT": "renew.created"]).signaled)
        try c.sql("DELETE FROM renewal_intents")
        let r = c.run("renew", "--due", "1h")
        #expect(r.status == 0 && r.out.contains("orphan-removed") && r.out.contains("so it is not deleted"), "\(r)")
        // Rebuilt from the audit log: disabled, never deleted (a log cut short could fake it).
        #expect(server.keys.filter { $0.key.hasPrefix("siem-console-v1v") }.values.allSatisfy { $0["status"] as? String == "disabled" && $0["deleted"] as? Bool == false })
        // rekey re-MACs an outstanding intent.
        #expect(c.run("renew", "siem", env: ["V1VAULT_DEBUG_KILL_AT": "renew.created"]).signaled)
        let pw2 = c.dir + "/pw2"
        try "another passphrase\n".write(toFile: pw2, atomically: true, encoding: .utf8)
        chmod(pw2, 0o600)
        #expect(c.run("rekey", "--new-passphrase-file", pw2).status == 0)
        let after = c.run("renew", "--due", "1h", env: ["V1VAULT_PASSPHRASE_FILE": pw2])
        #expect(after.status == 0 && after.out.contains("orphan-removed"), "\(after)")
        // An intent a person resolves by hand (audited) is neither acted on nor rebuilt.
        #expect(c.run("renew", "siem", env: ["V1VAULT_DEBUG_KILL_AT": "renew.created", "V1VAULT_PASSPHRASE_FILE": pw2]).signaled)
        let id = try #require(try c.rows("SELECT CAST(id AS TEXT) FROM renewal_intents").first)
        let forgot = c.run("renew", "--forget-intent", id, env: ["V1VAULT_PASSPHRASE_FILE": pw2])
        #expect(forgot.status == 0 && forgot.out.contains("forgot renewal intent \(id)"), "\(forgot)")
        #expect(c.run("renew", "--due", "1h", env: ["V1VAULT_PASSPHRASE_FILE": pw2]).status == 26)
        #expect(c.run("renew", "--forget-intent", id, env: ["V1VAULT_PASSPHRASE_FILE": pw2]).status == 64)
    }

    @Test("the manager renews itself; later calls use its new value")
    func managerRenewsItself() throws {
        let (c, server, _) = setUp(siemDays: 20)
        defer { c.cleanup() }
        let r = c.run("renew", "mgr", "siem")
        #expect(r.status == 0, "\(r)")
        let keys = server.keys
        #expect(keys["mgr-console"]?["status"] as? String == "disabled")
        #expect(keys.filter { $0.key.hasPrefix("mgr-console-v1v") }.values.allSatisfy { $0["status"] as? String == "enabled" })
        #expect(c.run("sync").status == 0)
    }

    @Test("sync: proposes and applies links, takes the console's expiry, reports dead, unused and unknown keys")
    func sync() throws {
        let c = CLI.initialized()
        defer { c.cleanup() }
        let server = FakeVisionOne(dir: c.dir)
        let m = server.seed(["name": "mgr", "role": "Master Administrator"])
        let s = server.seed(["name": "siem", "role": "SIEM", "expiredDateTime": "2027-06-01T00:00:00Z"])
        _ = server.seed(["name": "forgotten", "role": "SIEM"])
        let imposter = server.seed(["name": "imposter-source", "role": "SIEM"])
        _ = server.seed(["name": "jenkins", "role": "SIEM"])
        c.add("mgr", m.value, "--base-url", server.baseURL)
        c.add("siem", s.value, "--base-url", server.baseURL, "--expires", "1y")
        // A stored "jenkins" whose value is another key than the console's "jenkins".
        c.add("jenkins", imposter.value, "--base-url", server.baseURL, "--expires", "1y")
        #expect(c.run("sync").status == 28)
        try #require(c.run("manager", "set", "mgr").status == 0)
        let proposed = c.run("sync", "--json")
        #expect(proposed.status == 27, "\(proposed)")
        let findings = (try JSONSerialization.jsonObject(with: proposed.stdout) as! [String: Any])["findings"] as! [[String: Any]]
        #expect(findings.filter { $0["kind"] as? String == "link-proposed" }.compactMap { $0["name"] as? String }.sorted() == ["jenkins", "mgr", "siem"])
        // The manager's own key was just used for the listing: its last use cannot tell, so it is linked by hand.
        #expect(c.run("edit", "mgr", "--console-id", m.id, "--console-name", "mgr").status == 0)
        #expect(findings.contains { $0["kind"] as? String == "not-in-vault" && $0["console_name"] as? String == "forgotten" })
        let applied = c.run("sync", "--apply")
        #expect(applied.status == 27 && applied.out.contains("link-proposed (applied)"), "\(applied)")
        #expect(applied.out.contains("not linked: using its stored value did not move jenkins's last use: it is a different key; do not link them"), "\(applied)")
        #expect(!applied.out.contains("vault edit jenkins --console-id"), "\(applied)")
        // A link sync confirmed also takes the console key's role (what renew checks links by).
        #expect(c.run("show", "siem", "--json").out.contains(#""role":"SIEM""#))
        #expect(!c.run("show", "jenkins", "--json").out.contains("console_id\":\""))
        let shown = c.run("show", "siem", "--json")
        #expect(shown.out.contains(#""console_id":"\#(s.id)""#) && shown.out.contains(#""expires":"2027-06-01T00:00:00Z""#), "\(shown)")
        // The console disables the key behind the vault's back: dead, loudly.
        server.control("POST", "/_fake/keys/\(s.id)", ["status": "disabled"])
        let dead = c.run("sync")
        #expect(dead.status == 27 && dead.stderr.contains("warning: siem: its console key siem is DISABLED in the console"), "\(dead)")
        // Only `forgotten` and the dead key remain as findings once the key is enabled again.
        server.control("POST", "/_fake/keys/\(s.id)", ["status": "enabled", "expiredDateTime": "2027-07-01T00:00:00Z"])
        let moved = c.run("sync", "--apply", "--json")
        let kinds = ((try JSONSerialization.jsonObject(with: moved.stdout) as! [String: Any])["findings"] as! [[String: Any]]).map { $0["kind"] as! String }
        #expect(kinds.contains("expiry-differs") && kinds.contains("not-in-vault"), "\(kinds)")
        #expect(c.run("show", "siem", "--json").out.contains(#""expires":"2027-07-01T00:00:00Z""#))
        #expect(c.audit(action: "sync").count >= 3)
    }
}
