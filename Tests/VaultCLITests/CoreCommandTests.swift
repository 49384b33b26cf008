import Foundation
import GRDB
import Testing
import TestSupport

@Suite("vault init / add / list / show / remove / passwd (out of process)")
struct CoreCommandTests {
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJjaWQiOiJ0ZXN0In0.sig_-nature"

    @Test("init creates a 0600 vault and refuses to overwrite it")
    func initOnce() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let r = c.run("init", "--kdf-memory", "8M", "--kdf-ops", "1")
        #expect(r.status == 0, "\(r)")
        #expect(r.out == "created vault \(c.vaultPath) (argon2id, memory 8M, ops 1)\n")
        #expect(r.stderr.contains("warning: KDF parameters (8M, ops 1) are below libsodium's INTERACTIVE preset"))
        let mode = (try FileManager.default.attributesOfItem(atPath: c.vaultPath)[.posixPermissions] as! NSNumber).intValue
        #expect(mode & 0o777 == 0o600)
        let before = try Data(contentsOf: URL(fileURLWithPath: c.vaultPath))
        let again = c.run("init", "--kdf-memory", "8M", "--kdf-ops", "1")
        #expect(again.status == 6)
        #expect(again.stderr.hasPrefix("error: a vault already exists at \(c.vaultPath)\nhint: "))
        #expect(try Data(contentsOf: URL(fileURLWithPath: c.vaultPath)) == before)
    }

    @Test("init in the default location creates a 0700 directory under XDG_DATA_HOME")
    func initDefaultLocation() throws {
        var c = try CLI()
        defer { c.cleanup() }
        c.env["V1VAULT_PATH"] = nil
        c.env["XDG_DATA_HOME"] = c.dir + "/xdg"
        let r = c.run("init", "--kdf-memory", "8M", "--kdf-ops", "1")
        #expect(r.status == 0, "\(r)")
        let dirMode = (try FileManager.default.attributesOfItem(atPath: c.dir + "/xdg/v1vault")[.posixPermissions] as! NSNumber).intValue
        #expect(dirMode & 0o777 == 0o700)
        #expect(FileManager.default.fileExists(atPath: c.dir + "/xdg/v1vault/vault.db"))
    }

    @Test("init without any passphrase source and no terminal fails with exit 4")
    func initNoPassphrase() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let r = c.runWithoutTerminal("init", "--kdf-memory", "8M", "--kdf-ops", "1", env: ["V1VAULT_PASSPHRASE_FILE": nil])
        #expect(r.status == 4, "\(r)")
        #expect(r.stderr.contains("error: no passphrase"))
        #expect(!FileManager.default.fileExists(atPath: c.vaultPath), "a failed init must not leave a vault behind")
    }

    @Test("list keeps its columns aligned when a role holds a character outside the BMP")
    func listAlignment() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "tok-a", "--role", "🔒 SIEM", "--expires", day(30))
        try c.add("bb", "tok-b", "--role", "SOAR", "--expires", day(30))
        let lines = c.run("list").out.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        // The VERSION column starts at the same character in the header and in every row.
        let header = lines[0].distance(from: lines[0].startIndex, to: lines[0].range(of: "VERSION")!.lowerBound)
        for row in lines.dropFirst() {
            let at = row.distance(from: row.startIndex, to: row.range(of: "1 ")!.lowerBound)
            #expect(at == header, "\(lines)")
        }
    }

    @Test("add, list and show: text and JSON")
    func addListShow() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let add = c.run("add", "siem", "--region", "eu", "--role", "SIEM", "--expires", day(100), "--permission", "Workbench",
                        stdin: token + "\n")
        #expect(add.status == 0, "\(add)")
        #expect(add.out.hasPrefix("stored siem version 1 (eu, expires \(day(100))"))
        let list = c.run("list")
        #expect(list.status == 0)
        let lines = list.out.split(separator: "\n")
        #expect(lines[0].split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "REGION", "ROLE", "VERSION", "EXPIRES", "DAYS", "STATUS"])
        #expect(lines[1].split(separator: " ", omittingEmptySubsequences: true).map(String.init)[0...4] == ["siem", "eu", "SIEM", "1", day(100)])
        #expect(!list.out.contains(token))
        let json = try JSONSerialization.jsonObject(with: c.run("list", "--json").stdout) as! [[String: Any]]
        #expect(json.count == 1)
        #expect(json[0]["name"] as? String == "siem" && json[0]["base_url"] as? String == "https://api.eu.xdr.trendmicro.com")
        #expect(json[0]["status"] as? String == "ok" && json[0]["permissions"] as? [String] == ["Workbench"])
        #expect(json[0]["token"] == nil)
        let show = c.run("show", "siem")
        #expect(show.status == 0 && show.out.contains("base url         https://api.eu.xdr.trendmicro.com") && !show.out.contains(token))
        let reveal = c.run("show", "siem", "--reveal")
        #expect(reveal.out.hasSuffix("token            \(token)\n"), "\(reveal)")
        let revealJSON = try JSONSerialization.jsonObject(with: c.run("show", "siem", "--reveal", "--json").stdout) as! [String: Any]
        #expect(revealJSON["token"] as? String == token)
        let reveals = c.audit(action: "reveal")
        #expect(reveals.count == 2 && reveals.allSatisfy { ($0["outcome"] as? String) == "ok" })
    }

    @Test("bad input to add: exact message, exit code, and the vault unchanged", arguments: [
        (["add", "x"], "", Int32(13), "error: invalid token: empty input"),
        (["add", "x"], "abc def", 13, "error: invalid token: contains whitespace at byte 4"),
        (["add", "x"], "abc\ndef\n", 13, "error: invalid token: contains a line break at byte 4 (only one trailing newline is stripped)"),
        (["add", "x"], "abc\u{7f}", 13, "error: invalid token: contains a control character at byte 4"),
        (["add", "x"], "tök", 13, "error: invalid token: contains a non-ASCII byte at byte 2"),
        (["add", "x"], "<16385 × A>", 13, "error: invalid token: longer than 16 KiB"),
        (["add", "x"], "<200000 × A>", 13, "error: invalid token: longer than 16 KiB"),
        (["add", "../x"], "t", 64, "error: invalid name \"../x\": must start with a letter or digit"),
        (["add", ""], "t", 64, "error: invalid name \"\": empty"),
        (["add", String(repeating: "n", count: 65)], "t", 64, "error: invalid name"),
        (["add", "naïve"], "t", 64, "error: invalid name \"naïve\": only letters, digits, '.', '_' and '-' are allowed"),
        (["add", "existing"], "t", 12, "error: a token named existing already exists"),
        (["add", "x", "--region", "mars"], "t", 64, "error: unknown region \"mars\"\nhint: one of: us au eu in jp sg mea uk usgov ca za, or --base-url https://…"),
        (["add", "x", "--base-url", "http://api.example.com"], "t", 64, "error: base URL \"http://api.example.com\" is not https"),
        (["add", "x", "--region", "eu", "--base-url", "https://a.b"], "t", 64, "error: give --region or --base-url, not both"),
        (["add", "x", "--expires", "someday"], "t", 64, "error: invalid expiry \"someday\"\nhint: use 30d, 90d, 180d, 1y, never, or a date like 2027-01-31"),
        (["add", "x", "--expires", "2020-01-01"], "t", 64, "error: expiry 2020-01-01T00:00:00Z is not in the future"),
        (["add", "x", "--expires", "2027-02-30"], "t", 64, "error: invalid expiry \"2027-02-30\""),
    ])
    func addBadInput(args: [String], stdin: String, status: Int32, message: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("existing", "tok")
        let before = try c.snapshot()
        // "<N × A>" stands for N bytes of A, to keep the test log readable.
        var input = Data(stdin.utf8)
        if stdin.hasPrefix("<"), let n = Int(stdin.dropFirst().prefix { $0.isNumber }) { input = Data(repeating: 0x41, count: n) }
        let r = c.run(args, stdin: input)
        #expect(r.status == status, "\(r)")
        #expect(r.stderr.hasPrefix(message), "\(r)")
        #expect(r.out.isEmpty)
        #expect(try c.snapshot() == before)
    }

    @Test("passphrase problems: wrong, empty, missing file, world-readable file, huge", arguments: [
        ("wrong", Int32(3), "error: wrong passphrase"),
        ("empty", 4, "error: invalid passphrase: empty"),
        ("missing", 4, "error: no passphrase: passphrase file /nonexistent/pw does not exist"),
        ("world-readable", 8, "is accessible by other users (mode 644)\nhint: chmod 600 "),
        ("huge", 4, "error: invalid passphrase: longer than 4096 bytes"),
    ])
    func passphraseProblems(kind: String, status: Int32, message: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "tok")
        let before = try c.snapshot()
        let file = c.dir + "/other-pw"
        var env: [String: String?] = ["V1VAULT_PASSPHRASE_FILE": file]
        switch kind {
        case "wrong": try setupFile(file, "nope\n")
        case "empty": try setupFile(file, "\n")
        case "missing": env = ["V1VAULT_PASSPHRASE_FILE": "/nonexistent/pw"]
        case "world-readable": try setupFile(file, "correct horse battery\n", mode: 0o644)
        default: try setupFile(file, String(repeating: "p", count: 5000))
        }
        let r = c.run("show", "k", "--reveal", env: env)
        #expect(r.status == status, "\(r)")
        #expect(r.stderr.contains(message), "\(r)")
        #expect(!r.out.contains("tok\n"))
        #expect(try c.snapshot() == before)
        if kind == "wrong" {
            let unlocks = c.audit(action: "unlock")
            #expect(unlocks.last?["outcome"] as? String == "error" && unlocks.last?["reason"] as? String == "wrong passphrase")
        }
    }

    @Test("passphrase from an fd and from V1VAULT_PASSPHRASE")
    func passphraseSources() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "tok-fd")
        let viaEnv = c.run("show", "k", "--reveal", env: ["V1VAULT_PASSPHRASE_FILE": nil, "V1VAULT_PASSPHRASE": "correct horse battery"])
        #expect(viaEnv.status == 0 && viaEnv.out.contains("tok-fd"), "\(viaEnv)")
        // --passphrase-fd 0 with the passphrase on stdin.
        let viaFD = c.run(["show", "k", "--reveal", "--passphrase-fd", "0"], stdin: Data("correct horse battery\n".utf8),
                          env: ["V1VAULT_PASSPHRASE_FILE": nil])
        #expect(viaFD.status == 0 && viaFD.out.contains("tok-fd"), "\(viaFD)")
        let badFD = c.run("show", "k", "--reveal", "--passphrase-fd", "9", env: ["V1VAULT_PASSPHRASE_FILE": nil])
        #expect(badFD.status == 4 && badFD.stderr.hasPrefix("error: no passphrase: file descriptor 9 is not open"))
    }

    @Test("a systemd credential ($CREDENTIALS_DIRECTORY/v1vault-passphrase) is a passphrase source, after the flags and before the variables")
    func systemdCredential() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.cred")
        let creds = c.dir + "/credentials"
        try FileManager.default.createDirectory(atPath: creds, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try setupFile(creds + "/v1vault-passphrase", "correct horse battery", mode: 0o400)
        let wrong = c.dir + "/wrong"
        try setupFile(wrong, "not it\n")
        // Alone, and ahead of V1VAULT_PASSPHRASE_FILE / V1VAULT_PASSPHRASE (both wrong here).
        let alone = c.runWithoutTerminal("export", "k", "--format", "raw", env: ["V1VAULT_PASSPHRASE_FILE": nil, "CREDENTIALS_DIRECTORY": creds])
        #expect(alone.status == 0 && alone.out == "eyJ.cred", "\(alone)")
        let ahead = c.run("export", "k", "--format", "raw", env: ["V1VAULT_PASSPHRASE_FILE": wrong, "V1VAULT_PASSPHRASE": "nope", "CREDENTIALS_DIRECTORY": creds])
        #expect(ahead.status == 0 && ahead.out == "eyJ.cred", "\(ahead)")
        // --passphrase-file beats it.
        let flag = c.run("--passphrase-file", wrong, "export", "k", "--format", "raw", env: ["CREDENTIALS_DIRECTORY": creds])
        #expect(flag.status == 3, "\(flag)")
        // A directory without the credential changes nothing; so does a relative path.
        #expect(c.run("export", "k", "--format", "raw", env: ["CREDENTIALS_DIRECTORY": c.dir + "/nowhere"]).status == 0)
        #expect(c.run("export", "k", "--format", "raw", env: ["V1VAULT_PASSPHRASE_FILE": wrong, "CREDENTIALS_DIRECTORY": "credentials"]).status == 3)
        // Group read is what systemd's ACL for the unit's user looks like (mode 0440 on kernels
        // ≥ 6.3): accepted. Readable by others, or writable at all: refused (exit 8).
        chmod(creds + "/v1vault-passphrase", 0o440)
        #expect(c.runWithoutTerminal("export", "k", "--format", "raw", env: ["V1VAULT_PASSPHRASE_FILE": nil, "CREDENTIALS_DIRECTORY": creds]).out == "eyJ.cred")
        for mode: mode_t in [0o444, 0o640, 0o600] {
            chmod(creds + "/v1vault-passphrase", mode)
            #expect(c.runWithoutTerminal("export", "k", env: ["V1VAULT_PASSPHRASE_FILE": nil, "CREDENTIALS_DIRECTORY": creds]).status == 8, "mode \(String(mode, radix: 8))")
        }
        // `exec` does not hand the credential directory to its command (a v1vault started
        // there would open the vault with it); a directory without it is passed on.
        chmod(creds + "/v1vault-passphrase", 0o400)
        let child = c.run("exec", "k", "--", "env", env: ["V1VAULT_PASSPHRASE_FILE": nil, "CREDENTIALS_DIRECTORY": creds])
        #expect(child.status == 0 && child.out.contains("TMV1_TOKEN=eyJ.cred") && !child.out.contains("CREDENTIALS_DIRECTORY"), "\(child)")
        let other = c.dir + "/other-creds"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: false)
        #expect(c.run("exec", "k", "--", "env", env: ["CREDENTIALS_DIRECTORY": other]).out.contains("CREDENTIALS_DIRECTORY=\(other)"))
    }

    @Test("a systemd credential that is not read-only and private names the rule (0400, or 0440 with systemd's ACL) and hints chmod 400, not chmod 600; exit 8, nothing read",
          arguments: [0o600, 0o640, 0o666, 0o444, 0o604, 0o200] as [mode_t])
    func credentialModeRefused(mode: mode_t) throws {
        // Given: a vault, and $CREDENTIALS_DIRECTORY/v1vault-passphrase holding its passphrase.
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.cred")
        let creds = c.dir + "/credentials"
        try FileManager.default.createDirectory(atPath: creds, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let file = creds + "/v1vault-passphrase"
        guard FileManager.default.createFile(atPath: file, contents: Data("correct horse battery".utf8), attributes: [.posixPermissions: 0o400]),
              chmod(file, mode) == 0 else { throw TestSetupError(description: "cannot create \(file) with mode \(String(mode, radix: 8))") }
        // When: a command needs the passphrase and the credential is its source.
        let r = c.runWithoutTerminal("export", "k", "--format", "raw", env: ["V1VAULT_PASSPHRASE_FILE": nil, "CREDENTIALS_DIRECTORY": creds])
        // Then: refused with the credential's own rule and the chmod that satisfies it.
        #expect(r.status == 8, "\(r)")
        #expect(r.out == "", "\(r)")
        #expect(r.stderr == """
            error: systemd credential \(file) has mode \(String(mode, radix: 8)): credentials are read-only and private (0400, or 0440 with systemd's ACL)
            hint: chmod 400 \(file), or let systemd provide it (LoadCredential=, LoadCredentialEncrypted=)

            """, "\(r)")
        // And chmod 400, as the hint says, is accepted.
        guard chmod(file, 0o400) == 0 else { throw TestSetupError(description: "chmod 400 \(file)") }
        let fixed = c.runWithoutTerminal("export", "k", "--format", "raw", env: ["V1VAULT_PASSPHRASE_FILE": nil, "CREDENTIALS_DIRECTORY": creds])
        #expect(fixed.status == 0 && fixed.out == "eyJ.cred", "\(fixed)")
    }

    @Test("a pasted key loses surrounding whitespace and a leading Bearer (said on stderr); inner whitespace is still refused", arguments: [
        ("  eyJa.b.c \r\n\n", "surrounding whitespace"),
        ("Bearer eyJa.b.c", "a leading \"Bearer \""),
        ("\tbearer\t eyJa.b.c\n", "a leading \"Bearer \" and surrounding whitespace"),
    ])
    func pastedKey(input: String, said: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let r = c.run("add", "k", stdin: input)
        #expect(r.status == 0 && r.stderr == "note: stripped \(said) from the key\n", "\(r)")
        #expect(c.run("export", "k", "--format", "raw").out == "eyJa.b.c")
        let rot = c.run("rotate", "--force", "k", stdin: "Bearer eyJa.b.d\n")
        #expect(rot.status == 0 && rot.stderr.hasPrefix("note: stripped a leading \"Bearer \" from the key\n"), "\(rot)")
        let inner = c.run("add", "k2", stdin: "Bearer eyJa b.c")
        #expect(inner.status == 13 && inner.stderr.hasPrefix("error: invalid token: contains whitespace at byte 5"), "\(inner)")
        #expect(c.run("add", "k3", stdin: " \n\t").status == 13)
    }

    @Test("a passphrase file with a Windows line ending gets a hint, not just 'wrong passphrase' (exit 3)")
    func carriageReturn() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.cr")
        let file = c.dir + "/crlf"
        try setupFile(file, "correct horse battery\r\n")
        let r = c.run("export", "k", env: ["V1VAULT_PASSPHRASE_FILE": file])
        #expect(r.status == 3 && r.stderr.hasPrefix("error: wrong passphrase\nhint: the passphrase ends in a carriage return"), "\(r)")
        let plain = c.run("export", "k", env: ["V1VAULT_PASSPHRASE_FILE": nil, "V1VAULT_PASSPHRASE": "nope"])
        #expect(plain.status == 3 && plain.stderr == "error: wrong passphrase\n", "\(plain)")
    }

    @Test("first run without init: no vault here (exit 5) and the hint says vault init, whatever the command")
    func firstRun() throws {
        let c = try CLI()
        defer { c.cleanup() }
        for args in [["list"], ["expiring"], ["export", "k"], ["status"], ["unlock"]] {
            let r = c.run(args, stdin: nil, env: ["V1VAULT_PATH": nil, "XDG_DATA_HOME": nil])
            #expect(r.status == 5, "\(args): \(r)")
            #expect(r.stderr == "error: no vault at \(c.dir)/.local/share/v1vault/vault.db\nhint: create one with `vault init`, or point --vault / V1VAULT_PATH at an existing vault\n", "\(args): \(r)")
        }
    }

    @Test("--vault pointing at bad places", arguments: [
        ("directory", Int32(7), "error: cannot use vault path"),
        ("missing-parent", 5, "error: no vault at"),
        ("not-sqlite", 7, "is not a v1vault vault: not a SQLite database"),
        ("foreign-sqlite", 7, "is not a v1vault vault: no vault header"),
        ("missing", 5, "error: no vault at"),
        ("insecure", 8, "is accessible by other users (mode 640)"),
        ("newer-schema", 7, "has schema 9999_future, newer than this binary understands"),
    ])
    func badVaultPaths(kind: String, status: Int32, message: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        var path = c.dir + "/other.db"
        switch kind {
        case "directory": path = c.dir
        case "missing-parent": path = c.dir + "/no/such/dir/vault.db"
        case "not-sqlite": try setupFile(path, "just text")
        case "foreign-sqlite":
            let q = try DatabaseQueue(path: path)
            try q.write { try $0.execute(sql: "CREATE TABLE t(x)") }
            try q.close()
            chmod(path, 0o600)
        case "insecure": path = c.vaultPath; chmod(path, 0o640)
        case "newer-schema": path = c.vaultPath; try c.sql("INSERT INTO grdb_migrations VALUES ('9999_future')")
        default: break
        }
        let r = c.run("--vault", path, "list")
        #expect(r.status == status, "\(r)")
        #expect(r.stderr.contains(message), "\(r)")
        #expect(r.out.isEmpty)
    }

    @Test("remove asks on a terminal, refuses without --yes otherwise, and deletes every version")
    func remove() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "one")
        #expect(c.run("rotate", "--force", "k", stdin: "two").status == 0)
        let refused = c.run("remove", "k")
        #expect(refused.status == 16 && refused.stderr.contains("pass --yes when not on a terminal"))
        let r = c.run("remove", "k", "--yes")
        #expect(r.status == 0 && r.out == "removed k (2 versions)\n", "\(r)")
        #expect(c.run("show", "k").status == 9)
        let rows = try c.snapshot()
        #expect(rows.count == 1)  // only the header remains
    }

    @Test("passwd rewraps the key: the new passphrase works, the old one does not, tokens survive")
    func passwd() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "tok-pw")
        let newFile = c.dir + "/new-pw"
        try setupFile(newFile, "a brand new passphrase\n")
        let r = c.run("passwd", "--new-passphrase-file", newFile)
        #expect(r.status == 0 && r.out.hasPrefix("passphrase changed"), "\(r)")
        #expect(c.run("show", "k", "--reveal").status == 3)
        let ok = c.run("show", "k", "--reveal", env: ["V1VAULT_PASSPHRASE_FILE": newFile])
        #expect(ok.status == 0 && ok.out.contains("tok-pw"))
    }

    @Test("a full session leaves no plaintext token in the database files or stderr")
    func noPlaintextOnDisk() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let secret = "eyJ-plaintext-marker-" + UUID().uuidString
        var stderr = ""
        stderr += c.run("add", "k", stdin: secret).stderr
        stderr += c.run("show", "k", "--reveal").stderr
        stderr += c.run("export", "k").stderr
        stderr += c.run("rotate", "--force", "k", stdin: secret + "-2").stderr
        stderr += c.run("rotate", "--force", "k", stdin: secret + "-2").stderr  // refused: identical
        stderr += c.run("history", "k").stderr
        stderr += c.run("audit").stderr
        #expect(!stderr.contains(secret))
        for name in try FileManager.default.contentsOfDirectory(atPath: c.dir) where name.hasPrefix("vault.db") {
            let data = try Data(contentsOf: URL(fileURLWithPath: c.dir + "/" + name))
            #expect(data.range(of: Data(secret.utf8)) == nil, "plaintext in \(name)")
        }
    }
}
