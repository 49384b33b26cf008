import Foundation
import Testing

/// Every command that prints a result takes --json and prints one compact line, in one shape
/// per concept (README, "JSON output").
@Suite("--json on every command that prints a result; one shape per concept (out of process)", .serialized)
struct JSONEverywhereCLITests {
    /// The one line of JSON `r` printed, as an object; a failure names the command.
    func object(_ r: CLI.Result, _ what: String) throws -> [String: Any] {
        #expect(r.status == 0, "\(what): \(r)")
        #expect(r.out.hasSuffix("\n") && r.out.dropLast().split(separator: "\n").count == 1, "\(what): \(r.out)")
        return try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], "\(what): \(r)")
    }

    static let tokenKeys: Set<String> = ["name", "region", "base_url", "role", "description", "permissions", "created", "version", "versions",
                                         "version_created", "expires", "days_left", "status", "warn_days", "console_id", "console_name", "manager"]

    @Test("a key has one shape in show, list, edit and rename: every field present, null when it does not apply")
    func tokenShape() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("custom", "eyJ.c.c", "--base-url", "https://api.example.com", "--expires", "never")
        let show = try object(c.run("show", "custom", "--json"), "show")
        #expect(Set(show.keys) == Self.tokenKeys)
        #expect(show["region"] is NSNull && show["expires"] is NSNull && show["role"] is NSNull && show["console_id"] is NSNull)
        let list = try #require(try JSONSerialization.jsonObject(with: c.run("list", "--json").stdout) as? [[String: Any]])
        #expect(list.count == 1 && Set(list[0].keys) == Self.tokenKeys && list[0]["region"] is NSNull)
        let edited = try object(c.run("edit", "custom", "--role", "SIEM", "--json"), "edit")
        #expect(Set(edited.keys) == Self.tokenKeys && edited["role"] as? String == "SIEM" && edited["name"] as? String == "custom")
        let renamed = try object(c.run("rename", "custom", "renamed", "--json"), "rename")
        #expect(Set(renamed.keys) == Self.tokenKeys && renamed["name"] as? String == "renamed" && renamed["role"] as? String == "SIEM")
        // --quiet silences confirmations, never results.
        let quiet = try object(c.run("-q", "edit", "renamed", "--role", "", "--json"), "edit -q")
        #expect(quiet["role"] is NSNull)
    }

    @Test("backup, audit verify, audit head, kdf benchmark, kdf set, passwd, rekey, init and manager unset print JSON")
    func results() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let created = try object(c.run("init", "--kdf-memory", "8M", "--kdf-ops", "1", "--json"), "init")
        let kdf = try #require(created["kdf"] as? [String: Any])
        #expect(created["vault"] as? String == c.vaultPath && Set(kdf.keys) == ["algorithm", "memory", "ops"])
        #expect(kdf["algorithm"] as? String == "argon2id" && kdf["memory"] as? Int == 8 << 20 && kdf["ops"] as? Int == 1)
        try c.add("k", "eyJ.k.k")
        let copy = c.dir + "/copy.db"
        let backup = try object(c.run("backup", copy, "--json"), "backup")
        #expect(backup["vault"] as? String == c.vaultPath && backup["backup"] as? String == copy)
        let head = try object(c.run("audit", "head", "--json"), "audit head")
        let headText = try #require(head["head"] as? String)
        #expect(headText == "\(head["seq"] as? Int ?? -1):" + headText.split(separator: ":").last!)
        let verify = try object(c.run("audit", "verify", "--json", "--expect-head", headText), "audit verify")
        #expect(verify["intact"] as? Bool == true && verify["problem"] is NSNull && (verify["sealed_rows"] as? Int ?? 0) >= (head["seq"] as? Int ?? .max))
        let bench = c.run("kdf", "benchmark", "--kdf-memory", "8M", "--max-ops", "2", "--json")
        let rows = try #require(try JSONSerialization.jsonObject(with: bench.stdout) as? [[String: Any]], "\(bench)")
        #expect(rows.count == 2 && rows.map { $0["ops"] as? Int } == [1, 2] && rows.map { $0["memory"] as? Int } == [8 << 20, 8 << 20])
        #expect(rows.map { $0["milliseconds"] is Int } == [true, true] && rows.map { $0["note"] is NSNull } == [true, true])
        let set = try object(c.run("kdf", "set", "--kdf-memory", "8M", "--kdf-ops", "2", "--json"), "kdf set")
        #expect((set["kdf"] as? [String: Any])?["ops"] as? Int == 2)
        let newFile = c.dir + "/new-passphrase"
        #expect(FileManager.default.createFile(atPath: newFile, contents: Data("another correct horse\n".utf8), attributes: [.posixPermissions: 0o600]))
        let passwd = try object(c.run("passwd", "--new-passphrase-file", newFile, "--kdf-memory", "8M", "--kdf-ops", "1", "--json"), "passwd")
        #expect(passwd["vault"] as? String == c.vaultPath && (passwd["kdf"] as? [String: Any])?["ops"] as? Int == 1)
        let rekey = try object(c.run(["rekey", "--new-passphrase-file", c.passphraseFile, "--kdf-memory", "8M", "--kdf-ops", "1", "--json"],
                                     stdin: nil, env: ["V1VAULT_PASSPHRASE_FILE": newFile]), "rekey")
        #expect(rekey["tokens"] as? Int == 1 && rekey["versions"] as? Int == 1 && (rekey["kdf"] as? [String: Any])?["memory"] as? Int == 8 << 20)
        _ = try object(c.run("manager", "set", "k", "--json"), "manager set")
        let unset = try object(c.run("manager", "unset", "k", "--json"), "manager unset")
        #expect(unset["manager"] is NSNull && unset["replaced"] as? String == "k" && unset["base_url"] as? String == "https://api.xdr.trendmicro.com")
    }

    @Test("a broken audit chain: --json still says so on stdout, and the exit code is 20")
    func brokenChain() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.k.k")
        try c.add("j", "eyJ.j.j")
        try c.sql("UPDATE audit_log SET action = 'forged' WHERE seq = 2")
        let r = c.run("audit", "verify", "--json")
        #expect(r.status == 20, "\(r)")
        let o = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], "\(r)")
        #expect(o["intact"] as? Bool == false && o["problem"] is String)
        #expect(r.stderr.hasPrefix("error: audit chain broken: "))
    }

    @Test("unlock and lock print the session shape of status --json", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/keyctl"), "keyctl is not installed (scripts/bootstrap installs keyutils)"))
    func session() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        let unlocked = try object(c.run("unlock", "--for", "5m", "--json"), "unlock")
        #expect(Set(unlocked.keys) == ["vault", "state", "expires", "seconds_left", "keyring"])
        #expect(unlocked["state"] as? String == "unlocked" && unlocked["seconds_left"] as? Int == 300 && unlocked["keyring"] as? String == "session")
        let status = try object(c.run("status", "--json"), "status")
        #expect(Set(status.keys) == Set(unlocked.keys) && status["expires"] as? String == unlocked["expires"] as? String)
        let locked = try object(c.run("lock", "--json"), "lock")
        #expect(locked["state"] as? String == "locked" && locked["was_unlocked"] as? Bool == true && locked["vault"] as? String == c.vaultPath)
        let again = try object(c.run("lock", "--json"), "lock again")
        #expect(again["was_unlocked"] as? Bool == false)
        // `lock --all --json` ends the user keyring's sessions too, which every test shares:
        // SessionCLITests.UserKeyring.lockAllJSON, serialized with the others that use it.
    }
}
