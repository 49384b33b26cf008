import Foundation
import Testing
import TestSupport

struct TestSetupError: Error, CustomStringConvertible { var description: String }

extension FakeVisionOne {
    /// Calls the fake's control API (`/_fake/…`, docs/FAKE-VISIONONE.md) and returns its JSON.
    @discardableResult
    func control(_ method: String, _ path: String, _ body: Any? = nil) throws -> Any {
        let payload = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) } ?? ""
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
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TestSetupError(description: "control \(method) \(path) failed") }
        return try JSONSerialization.jsonObject(with: data)
    }

    /// Seeds a console key; returns (id, value).
    func seed(_ fields: [String: Any]) throws -> (id: String, value: String) {
        guard let k = try control("POST", "/_fake/keys", fields) as? [String: Any], let id = k["id"] as? String, let value = k["value"] as? String else {
            throw TestSetupError(description: "seeding \(fields) answered no key")
        }
        return (id, value)
    }

    /// Every key the fake ever held, deleted ones included, by name.
    func keys() throws -> [String: [String: Any]] {
        guard let state = try control("GET", "/_fake/state") as? [String: Any], let keys = state["keys"] as? [[String: Any]] else {
            throw TestSetupError(description: "/_fake/state answered no keys")
        }
        return Dictionary(keys.map { ($0["name"] as? String ?? "", $0) }, uniquingKeysWith: { _, b in b })
    }

    func requestCounts() throws -> [String: Int] {
        (try control("GET", "/_fake/state") as? [String: Any])?["requests"] as? [String: Int] ?? [:]
    }

    /// Moves the fake's clock `days` ahead of real time (with `Faketime.env(days:)` for vault).
    func shiftClock(days: Double) throws {
        try control("POST", "/_fake/config", ["now": RenewCLITests.iso(Date().addingTimeInterval(days * 86400))])
    }
}

/// libfaketime, for the runs that must happen days later (grace periods, orphans that wait).
enum Faketime {
    static let library = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"]
        .first { FileManager.default.fileExists(atPath: $0) }
    static var available: Bool { library != nil }
    static func env(days: Double) -> [String: String?] {
        ["LD_PRELOAD": library, "FAKETIME": "+\(Int(days * 86400))s", "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_DONT_RESET": "1"]
    }
}

/// `vault manager`, `renew`, `sync`, `restore` wired to the real binary, against the fake, which
/// answers as Trend's mock does (Location elements, items: null, bare ETags). The renewal logic
/// itself is tested in process (Tests/VaultCoreTests/Renewal); these prove the wiring.
@Suite("vault manager / renew / sync / restore against a fake Vision One (out of process)")
struct RenewCLITests {
    static func iso(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }

    /// A vault with a manager key `mgr` (a custom role with the API Keys permission) and a
    /// token `siem` linked to its console key, expiring in `siemDays` days.
    func setUp(siemDays: Int = 20, role: String = "SIEM") throws -> (CLI, FakeVisionOne, siemID: String) {
        let c = try CLI.initialized()
        let server = try FakeVisionOne(dir: c.dir)
        let m = try server.seed(["name": "mgr-console", "role": "API Keys Manager"])
        let s = try server.seed(["name": "siem-console", "role": role, "description": "splunk", "expiredDateTime": Self.iso(Date().addingTimeInterval(TimeInterval(siemDays) * 86400))])
        try add(c, "mgr", m.value, "--base-url", server.baseURL, "--expires", "1y", "--console-id", m.id, "--console-name", "mgr-console", "--role", "API Keys Manager")
        try add(c, "siem", s.value, "--base-url", server.baseURL, "--expires", "\(siemDays)d", "--console-id", s.id, "--console-name", "siem-console", "--role", role)
        let r = c.run("manager", "set", "mgr")
        guard r.status == 0 else { throw TestSetupError(description: "manager set: \(r)") }
        return (c, server, s.id)
    }

    func add(_ c: CLI, _ name: String, _ token: String, _ flags: String...) throws {
        let r = c.run(["add", name] + flags, stdin: Data(token.utf8))
        guard r.status == 0 else { throw TestSetupError(description: "add \(name): \(r)") }
    }

    func sha256(_ s: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let i = Pipe(), o = Pipe()
        p.standardInput = i; p.standardOutput = o
        try p.run()
        i.fileHandleForWriting.write(Data(s.utf8)); try? i.fileHandleForWriting.close()
        let out = String(decoding: o.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return String(out.prefix(64))
    }

    func history(_ c: CLI, _ name: String) throws -> [[String: Any]] {
        let r = c.run("history", name, "--json")
        guard r.status == 0, let h = try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]] else { throw TestSetupError(description: "history: \(r)") }
        return h
    }

    func intents(_ c: CLI) throws -> Int { Int(try c.rows("SELECT CAST(count(*) AS TEXT) FROM renewal_intents").first ?? "-1") ?? -1 }

    @Test("manager set/show/unset: one per base URL, region checked, flag covered by the metadata MAC")
    func manager() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "eyJ.a", "--region", "eu")
        try c.add("b", "eyJ.b", "--region", "eu")
        #expect(c.run("manager", "show").status == 28)
        let wrong = c.run("manager", "set", "a", "--region", "us")
        #expect(wrong.status == 64 && wrong.stderr.contains("error: a belongs to https://api.eu.xdr.trendmicro.com, not https://api.xdr.trendmicro.com"), "\(wrong)")
        #expect(c.run("manager", "set", "a", "--region", "eu").status == 0)
        let replaced = c.run("manager", "set", "b", "--json")
        #expect(replaced.status == 0 && replaced.out.contains(#""replaced":"a""#), "\(replaced)")
        let shown = c.run("manager", "show", "--json")
        #expect(shown.status == 0 && shown.out == #"[{"name":"b","base_url":"https://api.eu.xdr.trendmicro.com","region":"eu"}]"# + "\n", "\(shown)")
        #expect(c.audit(action: "edit").contains { ($0["details"] as? [String: String])?["manager"] == "set" })
        try c.sql("UPDATE tokens SET manager = 0 WHERE name = 'b'; UPDATE tokens SET manager = 1 WHERE name = 'a'")
        let tampered = c.run("export", "a", "--format", "raw")
        #expect(tampered.status == 14 && tampered.out.isEmpty, "\(tampered)")
    }

    @Test("renew: Trend's create answer is read, the value is the console's and nowhere else; the old key keeps its grace period, then is disabled and deleted")
    func renewHappyPath() throws {
        let (c, server, oldID) = try setUp()
        defer { c.cleanup() }
        // Every answer 20 ms after the request arrives: an audit row written after a console call
        // is then visibly later than the call (the rows' times have millisecond resolution).
        try server.control("POST", "/_fake/config", ["latency_ms": 20])
        let before = try server.requestCounts()
        let dry = c.run("renew", "siem", "--dry-run")
        #expect(dry.status == 0 && dry.out.contains("plan: siem: would create a key with the role SIEM for 1 month, verify it, make it current and disable siem-console 1d later"), "\(dry)")
        let writes = { (d: [String: Int]) in d.filter { $0.key.hasPrefix("POST") || $0.key.hasPrefix("PATCH") } }
        #expect(writes(try server.requestCounts()) == writes(before))

        let r = c.run("renew", "siem", "--json")
        #expect(r.status == 0, "\(r)")
        let all = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]])
        #expect(all.count == 1 && all[0]["result"] as? String == "renewed" && all[0]["to_version"] as? Int == 2, "\(all)")
        let newName = try #require(all[0]["console_name"] as? String)
        #expect(newName.range(of: #"^siem-console-v1v\d{8}-[0-9a-f]{8}$"#, options: .regularExpression) != nil)
        let disableAt = try #require((all[0]["old_key_disable_after"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
        #expect(abs(disableAt.timeIntervalSinceNow - 86400) < 120)
        #expect((all[0]["notes"] as? [String])?.first?.hasPrefix("IP allow-list: Vision One's API shows none") == true)
        var keys = try server.keys()
        #expect(keys["siem-console"]?["status"] as? String == "enabled")
        #expect(keys[newName]?["status"] as? String == "enabled" && keys[newName]?["role"] as? String == "SIEM" && keys[newName]?["description"] as? String == "splunk")
        let value = c.run("export", "siem", "--format", "raw").out.trimmingCharacters(in: .newlines)
        #expect(try sha256(value) == keys[newName]?["value_sha256"] as? String)
        #expect(!r.out.contains(value) && !r.stderr.contains("eyJ"))
        #expect(!c.run("audit", "--json").out.contains("eyJ"))
        for file in try FileManager.default.contentsOfDirectory(atPath: c.dir) where !file.hasSuffix(".jsonl") {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: c.dir + "/" + file))) ?? Data()
            #expect(bytes.range(of: Data(value.utf8)) == nil, "\(file) holds the new key")
        }
        let h = try history(c, "siem")
        #expect(h.count == 2 && h[0]["state"] as? String == "current" && h[0]["console_name"] as? String == newName)
        #expect(h[1]["console_id"] as? String == oldID && h[1]["console_state"] as? String == "enabled")
        #expect(c.audit(action: "console-create").count == 1 && c.audit(action: "manager-use").count == 1)
        // The daily timer the next hour: nothing due, the old key in its grace period: 26.
        let next = c.run("renew", "--due", "30d")
        #expect(next.status == 26 && next.out.contains("grace: siem: the old key siem-console of version 1 stays enabled for consumers until"), "\(next)")
        // Without grace the next run disables it; a week (here: none) later it is deleted.
        let disabled = c.run("renew", "--due", "30d", "--disable-after", "0")
        #expect(disabled.status == 0 && disabled.out.contains("disabled-old: siem: disabled the console key of retired version 1"), "\(disabled)")
        let deleted = c.run("renew", "--due", "30d", "--disable-after", "0", "--delete-after", "0")
        #expect(deleted.status == 0 && deleted.out.contains("deleted-old: siem"), "\(deleted)")
        keys = try server.keys()
        #expect(keys["siem-console"]?["deleted"] as? Bool == true)
        #expect(try history(c, "siem")[1]["console_state"] as? String == "deleted")
        #expect(c.run("check", "siem").status == 0)
        // Audited before and after every console write, in that order: the intent row
        // (console-create) before the create, the sealed staged version after it; each disable
        // and delete between its own row and its result; the manager's value revealed first.
        let renewal: Set<String> = ["manager-use", "console-create", "console-disable", "console-disable-result", "console-delete", "console-delete-result", "renew", "renew-verify"]
        let stamp = ISO8601DateFormatter()
        stamp.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let rows = try #require(try JSONSerialization.jsonObject(with: c.run("audit", "--json").stdout) as? [[String: Any]])
            .filter { renewal.contains($0["action"] as? String ?? "") }
            .map { row in (key: [row["action"] as? String, (row["details"] as? [String: String])?["step"]].compactMap { $0 }.joined(separator: ":"),
                           at: (row["at"] as? String).flatMap { stamp.date(from: $0) }?.timeIntervalSince1970 ?? .nan) }
        #expect(rows.map(\.key) == ["manager-use", "console-create", "renew:sealed", "renew-verify", "renew:promoted",
                                     "manager-use", "console-disable", "console-disable-result", "renew:disabled-old",
                                     "manager-use", "console-delete", "console-delete-result", "renew:deleted-old"], "\(rows)")
        // And each console write between its two rows, by the time the fake saw it arrive: the
        // row before is no later than the request (to the millisecond), the row after no earlier.
        let consoleWrites = server.requests.filter { $0["method"] as? String != "GET" }
        let brackets = [("console-create", "renew:sealed"), ("console-disable", "console-disable-result"), ("console-delete", "console-delete-result")]
        #expect(consoleWrites.count == brackets.count, "\(consoleWrites.map { "\($0["method"] ?? "") \($0["path"] ?? "")" })")
        for (write, (before, after)) in zip(consoleWrites, brackets) {
            let arrived = ((write["at"] as? Double ?? .nan) * 1000).rounded(.down) / 1000
            let b = rows.filter { $0.key == before }.map(\.at), a = rows.filter { $0.key == after }.map(\.at)
            #expect(b.count == 1 && a.count == 1 && b[0] <= arrived && a[0] >= arrived,
                    "\(write["method"] ?? "") \(write["path"] ?? "") arrived at \(arrived): \(before) \(b), \(after) \(a)")
        }
    }

    @Test("renew refuses an unlinked token (exit 25) and a base URL without a manager (exit 25, nothing called)")
    func unlinkedAndNoManager() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let server = try FakeVisionOne(dir: c.dir)
        try c.add("lone", "eyJ.lone", "--base-url", server.baseURL)
        let unlinked = c.run("renew", "lone")
        #expect(unlinked.status == 25 && unlinked.stderr.contains("not linked to a console key: link it with `vault edit lone --console-id ID --console-name NAME --role ROLE`"), "\(unlinked)")
        try #require(c.run("edit", "lone", "--console-id", "0000-1111").status == 0)
        let noManager = c.run("renew", "lone")
        #expect(noManager.status == 25 && noManager.stderr.contains("no manager key for \(server.baseURL)"), "\(noManager)")
        // A control through the same server: check's request is logged, and it is the only one,
        // so the two refusals above called nothing (not: the log lost them).
        _ = c.run("check", "lone")
        let seen = server.requests
        #expect(seen.count == 1 && (seen.first?["headers"] as? [String: String])?["Authorization"] == "Bearer eyJ.lone", "\(seen)")
        #expect(c.run("renew", "missing").status == 9)
        #expect(c.run("renew").status == 64)
        #expect(c.run("renew", "--due", "30d", "--role", "SIEM").status == 64)
    }

    @Test("a legacy Master Administrator key: the console's refusal is explained, nothing is disabled; --role renews it and the vault keeps the new role")
    func legacyRole() throws {
        let (c, server, _) = try setUp(role: "Master Administrator")
        defer { c.cleanup() }
        let dry = c.run("renew", "siem", "--dry-run")
        #expect(dry.out.contains("note: since 2025-10-27 the console does not give new API keys the Master Administrator role"), "\(dry)")
        let refused = c.run("renew", "siem")
        #expect(refused.status == 25, "\(refused)")
        #expect(refused.stderr.contains("failed: siem: the console refused to create a key with the role Master Administrator (HTTP 400 BadRequest): since 2025-10-27 new API keys cannot have that role; give the key a custom role that may be assigned to API keys (Administration > User Roles): `vault renew siem --role ROLE`"), "\(refused)")
        #expect(try intents(c) == 0)
        #expect(try server.keys().keys.filter { $0.hasPrefix("siem-console-v1v") }.isEmpty)
        #expect(try server.keys()["siem-console"]?["status"] as? String == "enabled")
        let renewed = c.run("renew", "siem", "--role", "SIEM Reader")
        #expect(renewed.status == 0, "\(renewed)")
        #expect(c.run("show", "siem", "--json").out.contains(#""role":"SIEM Reader""#))
        let created = try #require(try server.keys().first { $0.key.hasPrefix("siem-console-v1v") }?.value)
        #expect(created["role"] as? String == "SIEM Reader")
    }

    @Test("a failed create leaves the old version current: an unknown outcome keeps the intent, a definite refusal drops it and deletes nothing")
    func createFails() throws {
        let (c, server, _) = try setUp()
        defer { c.cleanup() }
        try server.control("POST", "/_fake/faults", ["kind": "status", "method": "POST", "path": "/v3.0/iam/apiKeys", "status": 500, "count": 1])
        let r = c.run("renew", "siem")
        #expect(r.status == 25 && r.stderr.contains("creating siem-console-v1v") && r.stderr.contains("HTTP 500"), "\(r)")
        #expect(r.stderr.contains("the intent stays and the next runs look again"), "\(r)")
        #expect(try history(c, "siem").count == 1 && (try intents(c)) == 1)
        #expect(c.audit(action: "console-create-result").first?["outcome"] as? String == "error")
        let watching = c.run("renew", "--due", "30d")
        #expect(watching.status == 26 && watching.out.contains("skipped: siem-console-v1v"), "\(watching)")
        // A definite refusal (HTTP 400): this run's intent is dropped (the 500's stays for its
        // day) and no console key is changed: the refused create is the run's last request and
        // none of its requests deletes or edits a key (the refused POST is the log's control).
        try server.control("POST", "/_fake/faults", ["kind": "status", "method": "POST", "path": "/v3.0/iam/apiKeys", "status": 400, "count": 1])
        let logged = server.requests.count
        let refused = c.run("renew", "siem")
        #expect(refused.status == 25 && refused.stderr.contains("HTTP 400") && refused.stderr.contains("nothing was created, disabled or deleted"), "\(refused)")
        #expect(try history(c, "siem").count == 1 && (try intents(c)) == 1)
        let calls = server.requests.dropFirst(logged).map { "\($0["method"] as? String ?? "?") \($0["path"] as? String ?? "?")" }
        #expect(calls.last == "POST /v3.0/iam/apiKeys" && calls.filter { !$0.hasPrefix("GET ") }.count == 1, "\(calls)")
    }

    @Test("the create's answer lost after the console made the key (drop-after, 504-after): the orphan is deleted in the same run",
          arguments: ["drop-after", "504-after"])
    func responseLost(kind: String) throws {
        let (c, server, _) = try setUp()
        defer { c.cleanup() }
        try server.control("POST", "/_fake/faults", ["kind": kind, "method": "POST", "path": "/v3.0/iam/apiKeys", "count": 1])
        let r = c.run("renew", "siem")
        #expect(r.status == 25 && r.stderr.contains("removed orphaned console key siem-console-v1v"), "\(r)")
        let orphans = try server.keys().filter { $0.key.hasPrefix("siem-console-v1v") }
        #expect(orphans.count == 1 && orphans.values.first?["deleted"] as? Bool == true, "\(orphans)")
        #expect(try history(c, "siem").count == 1 && (try intents(c)) == 0)
        #expect(c.run("renew", "siem").status == 0)
    }

    @Test("a new key that never passes the connectivity check is disabled; the old version stays current")
    func verifyFails() throws {
        let (c, server, _) = try setUp()
        defer { c.cleanup() }
        try server.control("POST", "/_fake/config", ["propagation_ms": 60_000])
        let r = c.run("renew", "siem", "--verify-timeout", "1s")
        #expect(r.status == 25 && r.stderr.contains("did not pass the connectivity check"), "\(r)")
        let h = try history(c, "siem")
        #expect(h.count == 2 && h[0]["state"] as? String == "retired" && h[0]["console_state"] as? String == "disabled" && h[1]["state"] as? String == "current")
        #expect(try server.keys()["siem-console"]?["status"] as? String == "enabled")
        try server.control("POST", "/_fake/config", ["propagation_ms": 700])
        #expect(c.run("renew", "siem", "--verify-timeout", "20s").status == 0)
    }

    @Test("after a rollback two versions share a console key: renew never disables or deletes the current one's")
    func rollbackSharesKey() throws {
        let (c, server, _) = try setUp()
        defer { c.cleanup() }
        let other = try server.seed(["name": "siem-new", "role": "SIEM"])
        #expect(c.run(["rotate", "siem", "--console-id", other.id, "--console-name", "siem-new"], stdin: Data(other.value.utf8)).status == 0)
        #expect(c.run("rollback", "siem", "--to", "1").status == 0)
        let cleanup = c.run("renew", "--due", "30d", "--disable-after", "0", "--delete-after", "0")
        #expect(cleanup.status == 0 && cleanup.out.contains("disabled-old: siem: disabled the console key of retired version 2"), "\(cleanup)")
        #expect(c.run("renew", "--due", "30d", "--disable-after", "0", "--delete-after", "0").status == 0)
        let keys = try server.keys()
        #expect(keys["siem-console"]?["status"] as? String == "enabled" && keys["siem-console"]?["deleted"] as? Bool == false)
        #expect(keys["siem-new"]?["deleted"] as? Bool == true)
        #expect(c.run("check", "siem").status == 0)
    }

    @Test("links: one key per token; a name or role that no longer matches stops renew with a hint whose words are shell-quoted")
    func linkSafety() throws {
        let (c, server, siemID) = try setUp()
        defer { c.cleanup() }
        let mgrID = try #require(try server.keys()["mgr-console"]?["id"] as? String)
        let shared = c.run("edit", "siem", "--console-id", mgrID)
        #expect(shared.status == 64 && shared.stderr.contains("console key \(mgrID) is already linked to mgr"), "\(shared)")
        #expect(c.run("edit", "siem", "--console-id", "..").status == 64)
        let auditor = try server.seed(["name": "auditor-key", "role": "Auditor"])
        try add(c, "ci", "eyJ.ci.x", "--force", "--base-url", server.baseURL, "--console-id", auditor.id)
        let unnamed = c.run("renew", "ci")
        #expect(unnamed.status == 25 && unnamed.stderr.contains("has no console name to check it by"), "\(unnamed)")
        #expect(c.run("edit", "ci", "--console-name", "auditor-key").status == 0)
        let roleless = c.run("renew", "ci")
        #expect(roleless.status == 25 && roleless.stderr.contains("ci has no role in the vault to give the new key: `vault edit ci --role=Auditor`"), "\(roleless)")
        #expect(c.run("edit", "ci", "--role", "SIEM").status == 0)
        let otherRole = c.run("renew", "ci")
        #expect(otherRole.status == 25 && otherRole.stderr.contains("console key auditor-key has the role Auditor, but the vault says SIEM"), "\(otherRole)")
        #expect(try server.keys()["auditor-key"]?["status"] as? String == "enabled")
        // A console name made to run code when a hint is pasted: every word is quoted.
        let hostile = "x'$(touch PWNED)'"
        try server.control("POST", "/_fake/keys/\(siemID)", ["name": hostile])
        let renamed = c.run("renew", "siem")
        #expect(renamed.status == 25, "\(renamed)")
        let hint = try #require(renamed.stderr.range(of: #"`vault edit siem '--console-name=[^`]*`"#, options: .regularExpression).map { String(renamed.stderr[$0].dropFirst().dropLast()) })
        #expect(hint == #"vault edit siem '--console-name=x'\''$(touch PWNED)'\'''"#)
        // Pasted into sh (with `vault` a function that prints its arguments): the name arrives whole, nothing runs.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "vault() { for a in \"$@\"; do printf '[%s]' \"$a\"; done; }; " + hint]
        p.currentDirectoryURL = URL(fileURLWithPath: c.dir)
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(printed == "[edit][siem][--console-name=\(hostile)]")
        #expect(!FileManager.default.fileExists(atPath: c.dir + "/PWNED"))
        let synced = c.run("sync")
        #expect(synced.out.contains(#"`vault edit siem '--console-name=x'\''$(touch PWNED)'\'''`"#), "\(synced)")
        #expect(try server.keys().keys.filter { $0.contains("-v1v") }.isEmpty)
    }

    @Test("a key enabled again in the console is not deleted by the clean-up")
    func reenabledNotDeleted() throws {
        let (c, server, siemID) = try setUp()
        defer { c.cleanup() }
        #expect(c.run("renew", "siem", "--disable-after", "0").status == 0)
        try server.control("POST", "/_fake/keys/\(siemID)", ["status": "enabled"])
        let r = c.run("renew", "--due", "30d", "--delete-after", "0", "--disable-after", "30d")
        #expect(r.status == 26 && r.out.contains("was enabled again in the console: not deleted"), "\(r)")
        #expect(try server.keys()["siem-console"]?["deleted"] as? Bool == false)
    }

    @Test("a malicious create answer — an expiry 40 days off — is refused before it is stored; the key it made is removed")
    func hostileCreateAnswer() throws {
        let (c, server, _) = try setUp()
        defer { c.cleanup() }
        try server.shiftClock(days: 40)
        let r = c.run("renew", "siem")
        #expect(r.status == 25 && r.stderr.contains("the answer's expiry is not 1 month from now"), "\(r)")
        #expect(try history(c, "siem").count == 1)
        let made = try server.keys().filter { $0.key.hasPrefix("siem-console-v1v") }.values
        #expect(made.count == 1 && made.first?["deleted"] as? Bool == true)
    }

    @Test("a planted renewal intent (no valid MAC) is never acted on: the console key with its name stays")
    func plantedIntent() throws {
        let (c, server, _) = try setUp()
        defer { c.cleanup() }
        _ = try server.seed(["name": "prod-connector", "role": "SIEM"])
        try c.sql("INSERT INTO renewal_intents (token_id, planned_name, base_url, created_at, mac) VALUES (1, 'prod-connector', '\(server.baseURL)', 1, zeroblob(32))")
        let r = c.run("renew", "--due", "1d")
        #expect(r.status == 25 && r.stderr.contains("renewal intent 1 failed authentication"), "\(r)")
        #expect(try server.keys()["prod-connector"]?["status"] as? String == "enabled")
        let doctor = c.run("doctor")
        #expect(doctor.status == 21 && doctor.out.contains("intent 1 fails authentication"), "\(doctor)")
    }

    @Test("SIGKILL at each step: the next run finishes or waits as it should; a week later one working key, no enabled orphan",
          .enabled(if: CLI.debugBinary != nil, "needs a debug build's V1VAULT_DEBUG_KILL_AT (V1VAULT_DEBUG_BIN: scripts/test sets it)"),
          .enabled(if: Faketime.available, "needs libfaketime (scripts/bootstrap installs faketime)"),
          arguments: [("renew.intent", 26, 1), ("renew.created", 26, 1), ("renew.sealed", 0, 2), ("renew.verified", 0, 2), ("renew.promoted", 26, 2), ("renew.disabled", 26, 2)])
    func killAtEachStep(point: String, nextStatus: Int32, current: Int) throws {
        let (debug, server, _) = try setUp()
        defer { debug.cleanup() }
        var c = debug
        c.bin = try #require(CLI.debugBinary)
        let killed = c.run("renew", "siem", env: ["V1VAULT_DEBUG_KILL_AT": point])
        #expect(killed.signaled, "\(point): \(killed)")
        let again = c.run("renew", "--due", "30d")
        #expect(again.status == nextStatus, "\(point): \(again)")
        let h = try history(c, "siem")
        #expect(h.first { $0["state"] as? String == "current" }?["version"] as? Int == current, "\(point): \(h)")
        #expect(c.run("check", "siem").status == 0)
        // A week and a day later (the vault's clock and the console's), everything is settled.
        // Every step's kill left something for this run to finish (an intent, an old key in its
        // grace period): exactly 0 (scripts/trials asserts the same, settle_run_codes).
        try server.shiftClock(days: 8)
        let settled = c.run("renew", "--due", "30d", env: Faketime.env(days: 8))
        #expect(settled.status == 0, "\(point): \(settled)")
        // The keys enabled in the console are exactly the manager's and those the vault says are
        // enabled, the current version's among them: no enabled orphan, and never vacuously.
        let keys = try server.keys().values
        let mgrID = try #require(try server.keys()["mgr-console"]?["id"] as? String)
        let settledHistory = try history(c, "siem")
        let currentID = try #require(settledHistory.first { $0["state"] as? String == "current" }?["console_id"] as? String)
        let vaultEnabled = Set(settledHistory.filter { $0["console_state"] as? String == "enabled" }.compactMap { $0["console_id"] as? String })
        let consoleEnabled = Set(keys.filter { $0["status"] as? String == "enabled" && $0["deleted"] as? Bool == false }.compactMap { $0["id"] as? String })
        #expect(vaultEnabled.contains(currentID) && consoleEnabled == vaultEnabled.union([mgrID]),
                "\(point): console enabled \(consoleEnabled), vault \(vaultEnabled), manager \(mgrID)")
        #expect(try intents(c) == 0)
        #expect(c.run("check", "siem", env: Faketime.env(days: 8)).status == 0)
    }

    @Test("a backup taken while renew waited on its create, restored with `vault restore`: the live key is reported, never disabled or deleted",
          .enabled(if: CLI.debugBinary != nil, "needs a debug build's V1VAULT_DEBUG_KILL_AT (V1VAULT_DEBUG_BIN: scripts/test sets it)"),
          .enabled(if: Faketime.available, "needs libfaketime (scripts/bootstrap installs faketime)"))
    func restoreMarksIntentsVerifyOnly() throws {
        let (debug, server, _) = try setUp()
        defer { debug.cleanup() }
        var c = debug
        c.bin = try #require(CLI.debugBinary)
        #expect(c.run("renew", "siem", env: ["V1VAULT_DEBUG_KILL_AT": "renew.created"]).signaled)
        let backup = c.dir + "/monday.db"
        #expect(c.run("backup", backup).status == 0)
        let planned = try #require(try server.keys().keys.first { $0.hasPrefix("siem-console-v1v") })
        let restored = c.run("restore", backup, "--yes")
        #expect(restored.status == 0 && restored.out.contains("restored \(backup) to \(c.vaultPath): 2 tokens"), "\(restored)")
        #expect(restored.stderr.contains("1 renewal intent was open in the backup (1 \(planned)): now verify-only"), "\(restored)")
        let kept = try #require(try FileManager.default.contentsOfDirectory(atPath: c.dir).first { $0.hasPrefix("vault.db.replaced-") })
        #expect(FileManager.default.fileExists(atPath: c.dir + "/" + kept))
        try server.shiftClock(days: 8)
        let r = c.run("renew", "--due", "30d", env: Faketime.env(days: 8))
        #expect(r.status == 26 && r.out.contains("skipped: \(planned): left console key \(planned)") && r.out.contains("this vault was restored from a copy"), "\(r)")
        #expect(try server.keys()[planned]?["status"] as? String == "enabled" && (try server.keys()[planned]?["deleted"] as? Bool) == false)
        #expect(try intents(c) == 0)
        // A file that is not a vault is refused and nothing is replaced.
        let junk = c.dir + "/junk.db"
        try Data("not a vault".utf8).write(to: URL(fileURLWithPath: junk))
        let bad = c.run("restore", junk, "--yes")
        #expect(bad.status == 7 && bad.stderr.hasPrefix("error: "), "\(bad)")
        #expect(c.run("list").status == 0)
        #expect(c.run("restore", backup).status == 16)   // no terminal, no --yes
    }

    @Test("the manager renews itself (a custom role); the run's other calls use its old value, later runs its new one")
    func managerRenewsItself() throws {
        let (c, server, _) = try setUp()
        defer { c.cleanup() }
        let r = c.run("renew", "mgr", "siem", "--disable-after", "0")
        #expect(r.status == 0, "\(r)")
        let keys = try server.keys()
        #expect(keys["mgr-console"]?["status"] as? String == "disabled")
        #expect(keys.filter { $0.key.hasPrefix("mgr-console-v1v") }.values.map { $0["status"] as? String } == ["enabled"])
        #expect(c.run("sync").status == 0)
    }

    @Test("doctor --seal-metadata refuses to vouch for a token whose MACs were stripped; it stays closed")
    func sealMetadataRefuses() throws {
        let (c, _, _) = try setUp()
        defer { c.cleanup() }
        try c.sql("UPDATE tokens SET meta_mac = NULL, state_mac = NULL, state_seq = NULL WHERE name = 'siem'")
        let doctor = c.run("doctor", "--seal-metadata")
        #expect(doctor.status == 21 && doctor.stderr.contains("did not vouch for siem: the audit log shows its MACs were sealed before"), "\(doctor)")
        #expect(c.run("export", "siem", "--format", "raw").status == 14)
        #expect(c.run("renew", "siem").status == 25)
    }

    @Test("sync: links it can confirm, says plainly when last use proves nothing (and does not propose it again), console ids in the table")
    func sync() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let server = try FakeVisionOne(dir: c.dir)
        let m = try server.seed(["name": "mgr", "role": "API Keys Manager"])
        let s = try server.seed(["name": "siem", "role": "SIEM", "expiredDateTime": "2027-06-01T00:00:00Z"])
        _ = try server.seed(["name": "forgotten", "role": "SIEM"])
        let imposter = try server.seed(["name": "imposter-source", "role": "SIEM"])
        let jenkins = try server.seed(["name": "jenkins", "role": "SIEM"])
        try add(c, "mgr", m.value, "--base-url", server.baseURL, "--console-id", m.id, "--console-name", "mgr", "--role", "API Keys Manager")
        try add(c, "siem", s.value, "--base-url", server.baseURL, "--expires", "1y")
        try add(c, "jenkins", imposter.value, "--base-url", server.baseURL, "--expires", "1y")
        #expect(c.run("sync").status == 28)
        try #require(c.run("manager", "set", "mgr").status == 0)
        let proposed = c.run("sync")
        #expect(proposed.status == 27 && proposed.out.contains("CONSOLE ID") && proposed.out.contains(s.id), "\(proposed)")
        #expect(proposed.out.contains("linked to no version of this vault, but 2 versions here name no console key"), "\(proposed)")
        let applied = c.run("sync", "--apply")
        #expect(applied.status == 27 && applied.out.contains("link-proposed (applied)"), "\(applied)")
        #expect(applied.out.contains("not linked: using its stored value did not (yet) move jenkins's last use, and Vision One does not say how promptly it does: that proves nothing either way; if you know it is that key, `vault edit jenkins --console-id \(jenkins.id) --console-name=jenkins --role=SIEM` links it"), "\(applied)")
        #expect(c.run("show", "siem", "--json").out.contains(#""role":"SIEM""#))
        let again = c.run("sync", "--apply")
        #expect(again.out.contains("version 1 is not linked to a console key; jenkins (\(jenkins.id)) was checked"), "\(again)")
        #expect(c.audit(action: "sync-confirm").count == 2)   // the second run did not use jenkins's value again
        try server.control("POST", "/_fake/keys/\(s.id)", ["status": "disabled"])
        let dead = c.run("sync")
        #expect(dead.status == 27 && dead.stderr.contains("warning: siem: its console key siem is DISABLED in the console"), "\(dead)")
    }
}

extension RenewCLITests {
    @Test("renew --publish writes a drop of the renewed key for its follower, which receives the new value; 0 enabled orphans")
    func renewPublishes() throws {
        let (c, server, oldID) = try setUp()
        defer { c.cleanup() }
        let host = try CLI.initialized()
        let hostID = try SharingCLITests.Pair.identity(host)
        let ownID = try SharingCLITests.Pair.identity(c)
        try SharingCLITests.Pair.ok(c.run("recipient", "add", "host", hostID.recipient, "--signing-key", hostID.key))
        try SharingCLITests.Pair.ok(c.run("recipient", "follow", "host", "siem"))
        try SharingCLITests.Pair.ok(host.run("recipient", "add", "producer", ownID.recipient, "--signing-key", ownID.key, "--trust"))
        let outbox = c.dir + "/outbox"
        try FileManager.default.createDirectory(atPath: outbox, withIntermediateDirectories: false)
        // Before the renewal the host takes version 1 (the key in use).
        try SharingCLITests.Pair.ok(c.run("share", "siem", "--followers", "--outbox", outbox))
        try SharingCLITests.Pair.ok(host.run("receive", outbox + "/host"))
        #expect(c.run("renew", "siem", "--publish", outbox, "--disable-after", "0").status == 64)
        let r = c.run("renew", "siem", "--publish", outbox)
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("published siem version 2 for host → \(outbox)/host/siem.age"), "\(r.stderr)")
        let got = host.run("receive", outbox + "/host")
        #expect(got.status == 0, "\(got)")
        #expect(got.out == "received siem version 2 from producer (rotated: version 2 here)\n")
        #expect(host.run("get", "siem").out == c.run("get", "siem").out)
        // The old console key stays enabled through the grace period (the host may still use it).
        #expect(try server.keys()["siem-console"]?["status"] as? String == "enabled")
        #expect(try server.keys()["siem-console"]?["id"] as? String == oldID)
    }
}
