import Foundation
import Testing

@Suite("vault doctor / backup (out of process)")
struct DoctorCLITests {
    @Test("doctor passes on a healthy vault and reports each problem on its own line with exit 21")
    func doctor() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        // Three tokens: the bad one in the middle proves the reused scratch buffer recovers.
        try c.add("a", "tok-a"); try c.add("b", "tok-b"); try c.add("c", "tok-c")
        let ok = c.run("doctor")
        #expect(ok.status == 0, "\(ok)")
        #expect(ok.out.contains("ok    secrets           all 3 stored versions of 3 tokens decrypt and authenticate"), "\(ok.out)")
        #expect(ok.out.contains("ok    version state     "), "\(ok.out)")
        // Corrupt one version's ciphertext and one audit row.
        // (The ciphertext: the nonce is covered by the state MAC, which would fail first.)
        try c.sql("UPDATE token_versions SET ciphertext = zeroblob(length(ciphertext)) WHERE token_id = (SELECT id FROM tokens WHERE name = 'b')")
        try c.sql("UPDATE audit_log SET action = 'x' WHERE seq = 2")
        let bad = c.run("doctor")
        #expect(bad.status == 21, "\(bad)")
        let failures = bad.out.split(separator: "\n").filter { $0.hasPrefix("FAIL") }
        // The sharing state is checked against the audit log after the row it names (init's, 1).
        #expect(failures.count == 3, "\(bad.out)")
        #expect(failures.contains { $0.hasPrefix("FAIL  sharing") && $0.contains("the audit log after the sharing rows' last change does not verify (audit row 2 does not verify") }, "\(bad.out)")
        #expect(failures.contains { $0.contains("token b version 1 failed authentication") })
        #expect(failures.contains { $0.contains("audit row 2 does not verify") })
        let json = try JSONSerialization.jsonObject(with: c.run("doctor", "--json").stdout) as! [String: Any]
        #expect(json["ok"] as? Bool == false)
        let offline = c.run("doctor", "--no-unlock", env: ["V1VAULT_PASSPHRASE_FILE": nil])
        #expect(offline.status == 0 && !offline.out.contains("secrets"), "\(offline)")
    }

    @Test("a vault directory writable by others (even sticky, like /tmp) is refused; doctor names it", arguments: [0o777, 0o1777, 0o770])
    func doctorDirectory(mode: Int) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        chmod(c.dir, mode_t(mode))
        defer { chmod(c.dir, 0o700) }
        let r = c.run("doctor", "--no-unlock")
        #expect(r.status == 21 && r.out.contains("FAIL  directory") && r.out.contains("is writable by other users"), "\(r)")
        let list = c.run("list")
        #expect(list.status == 8 && list.stderr.hasPrefix("error: refusing an unsafe vault location: directory \(c.dir) (mode \(String(mode, radix: 8))) is writable by other users"), "\(list)")
        #expect(list.stderr.contains("hint: chmod go-w "))
    }

    @Test("backup writes a 0600 copy that is itself a vault; refuses to overwrite; audited")
    func backup() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "tok-backup")
        let dest = c.dir + "/copy.db"
        let r = c.run("backup", dest)
        #expect(r.status == 0 && r.out == "backed up \(c.vaultPath) to \(dest)\n", "\(r)")
        let mode = (try FileManager.default.attributesOfItem(atPath: dest)[.posixPermissions] as! NSNumber).intValue
        #expect(mode & 0o777 == 0o600)
        #expect(c.run("--vault", dest, "doctor").status == 0)
        #expect(c.run("--vault", dest, "show", "a", "--reveal").out.hasSuffix("token            tok-backup\n"))
        let before = try Data(contentsOf: URL(fileURLWithPath: dest))
        #expect(c.run("backup", dest).status == 64)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dest)) == before)
        #expect(c.audit(action: "backup").count == 1)
    }
}

@Suite("metadata integrity (out of process)")
struct MetadataCLITests {
    @Test("export and exec refuse a token whose base URL was changed in the file; doctor reports it")
    func redirected() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("prod", "eyJ.prod-secret", "--region", "eu")
        try c.sql("UPDATE tokens SET base_url = 'https://attacker.example' WHERE name = 'prod'")
        let r = c.run("export", "prod")
        #expect(r.status == 14 && r.out == "false\n" && r.stderr.hasPrefix("error: token \"prod\" metadata failed authentication"), "\(r)")
        let e = c.run("exec", "prod", "--", "sh", "-c", "echo $TMV1_TOKEN")
        #expect(e.status == 125 && !e.out.contains("prod-secret"))
        let d = c.run("doctor")
        #expect(d.status == 21 && d.out.contains("FAIL  metadata"), "\(d)")
    }

    @Test("a stored value of the wrong type is a one-line 'corrupt' error (exit 7), never a crash",
          arguments: [
              ("UPDATE token_versions SET created_at = 'abc'", "token_versions.cur_created holds text"),
              ("UPDATE tokens SET name = x'ff' WHERE name = 'b'", "tokens.name holds a blob"),
          ])
    func wrongTypes(statement: String, column: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "tok-a"); try c.add("b", "tok-b")
        try c.sql(statement)
        for args in [["list"], ["expiring", "--within", "100y"], ["show", "a"]] where !(args == ["show", "a"] && column.contains("name")) {
            let r = c.run(args, stdin: nil)
            #expect(r.status == 7 && !r.signaled, "\(args): \(r)")
            #expect(r.stderr.hasPrefix("error: vault is corrupt: a stored value has the wrong type ("), "\(r.stderr)")
            #expect(r.stderr.contains(column) && !r.stderr.contains("row: ["), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
        }
    }
}
