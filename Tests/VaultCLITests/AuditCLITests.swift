import Foundation
import Testing

@Suite("vault audit (out of process)")
struct AuditCLITests {
    @Test("every command is recorded with actor and outcome; filters work; no token bytes appear")
    func recorded() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "secret-a-123")
        try c.add("b", "secret-b-456")
        _ = c.run("show", "a", "--reveal")
        _ = c.run("export", "b", "--format", "json")
        _ = c.run("show", "a", "--reveal", env: ["V1VAULT_PASSPHRASE_FILE": nil, "V1VAULT_PASSPHRASE": "wrong"])
        let all = try JSONSerialization.jsonObject(with: c.run("audit", "--json").stdout) as! [[String: Any]]
        // `show --reveal` is one row (the reveal), not a `show` row as well.
        #expect(all.map { $0["action"] as! String } == ["init", "add", "add", "reveal", "export", "unlock"])
        #expect(all.allSatisfy { ($0["user"] as? String)?.isEmpty == false && ($0["pid"] as? Int ?? 0) > 0 })
        let export = all[4]
        #expect((export["details"] as? [String: String]) == ["format": "json", "destination": "stdout", "names": "cookbook"])
        #expect((export["tokens"] as? [[String: Any]])?.first?["version"] as? Int == 1)
        let onlyA = try JSONSerialization.jsonObject(with: c.run("audit", "--token", "a", "--json").stdout) as! [[String: Any]]
        #expect(onlyA.count == 2)
        let limited = try JSONSerialization.jsonObject(with: c.run("audit", "--limit", "2", "--json").stdout) as! [[String: Any]]
        #expect(limited.map { $0["action"] as! String } == ["audit", "audit"])  // the two earlier `vault audit` calls
        let text = c.run("audit").out
        #expect(!text.contains("secret-a") && !text.contains("secret-b"))
        #expect(c.run("audit", "--since", "yesterday").status == 64)
    }

    @Test("verify exits 0 when intact and 20 at the edited row; head + --expect-head catch truncation")
    func verify() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "t1")
        _ = c.run("show", "a", "--reveal")
        let ok = c.run("audit", "verify")
        #expect(ok.status == 0 && ok.out.hasPrefix("audit chain intact: "), "\(ok)")
        let head = c.run("audit", "head").out.trimmingCharacters(in: .newlines)
        #expect(head.range(of: #"^\d+:[0-9a-f]{64}$"#, options: .regularExpression) != nil)
        #expect(c.run("audit", "verify", "--expect-head", head).status == 0)
        let seq = Int(head.split(separator: ":")[0])!
        try c.sql("DELETE FROM audit_log WHERE seq >= \(seq)")
        let truncated = c.run("audit", "verify", "--expect-head", head)
        #expect(truncated.status == 20 && truncated.stderr.contains("(the expected head) is missing"), "\(truncated)")
        try c.sql("UPDATE audit_log SET action = 'list' WHERE seq = 2")
        let edited = c.run("audit", "verify")
        #expect(edited.status == 20 && edited.stderr.hasPrefix("error: audit chain broken: audit row 2 does not verify"), "\(edited)")
        #expect(c.run("audit", "verify", "--expect-head", "garbage").status == 64)
    }

    @Test("no audit, no access: when audit rows cannot be written, nothing is revealed or exported (exit 17)")
    func noAuditNoAccess() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "must-not-leak")
        // The next audit seq would exceed SQLite's largest rowid: every audit insert fails with
        // SQLITE_FULL, a real write failure (no trigger: a planted trigger is refused as a schema
        // change, exit 7, before anything is read). Reading the token still works.
        try c.sql("UPDATE sqlite_sequence SET seq = 9223372036854775807 WHERE name = 'audit_log'")
        for args in [["show", "a", "--reveal"], ["export", "a"], ["export", "a", "--format", "raw"], ["check", "a"]] {
            let r = c.run(args, stdin: nil)
            #expect(r.status == 17, "\(args): \(r)")
            #expect(r.stderr.hasPrefix("error: could not write the audit log: "), "\(args): \(r)")
            #expect(r.stderr.contains("hint: no audit, no access: the secret was not released"), "\(args): \(r)")
            #expect(!r.out.contains("must-not-leak"), "\(args): \(r)")
        }
        let exec = c.run("exec", "a", "--", "sh", "-c", "echo $TMV1_TOKEN")
        #expect(exec.status == 125 && !exec.out.contains("must-not-leak") && exec.stderr.contains("could not write the audit log"), "\(exec)")
    }
}
