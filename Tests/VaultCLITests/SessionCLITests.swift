import Foundation
import GRDB
import Testing
import TestSupport

/// A session keyring of the test's own, so that its `vault unlock` is seen by its later
/// commands and by no other test: `keyctl newring` under the user keyring (which keeps it
/// alive between commands), joined by name with `keyctl session NAME` around every command.
struct TestKeyring {
    let name = "v1vtest-\(UUID().uuidString.prefix(8))"
    let id: String

    init() throws {
        id = Self.keyctl(["newring", name, "@u"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Int(id) != nil else { throw SetupError("keyctl newring failed") }
        // Let `keyctl session NAME` find it (the user needs search permission on it).
        guard Self.keyctl(["setperm", id, "0x3f3f0000"]).status == 0 else { throw SetupError("keyctl setperm failed") }
    }

    /// Unlinks it from the user keyring; the kernel then frees it and every key in it.
    func close() { Self.keyctl(["unlink", id, "@u"]) }

    var prefix: [String] { ["/usr/bin/keyctl", "session", name] }

    /// Runs `keyctl ARGS` inside this keyring.
    func keyctl(_ args: [String], uid: UInt32? = nil) -> (status: Int32, out: String) {
        let drop = uid.map { ["/usr/bin/setpriv", "--reuid", "\($0)", "--regid", "\($0)", "--clear-groups"] } ?? []
        return Self.keyctl(["session", name] + drop + ["/usr/bin/keyctl"] + args)
    }

    @discardableResult
    static func keyctl(_ args: [String]) -> (status: Int32, out: String) { runProgram("/usr/bin/keyctl", args) }
}

extension CLI {
    /// A vault with one token, every command run inside `ring`.
    static func inKeyring(_ ring: TestKeyring) throws -> CLI {
        var c = try CLI.initialized()
        c.prefix = ring.prefix
        try c.add("siem", "eyJ.session-token.sig")
        return c
    }

    /// `vault ARGS` with no passphrase source and no terminal: only a session can unlock.
    func withoutPassphrase(_ args: String...) -> CLI.Result {
        var r = run(args, stdin: nil, env: ["V1VAULT_PASSPHRASE_FILE": nil], withoutTerminal: true)
        r.stderr = Self.withoutKeyctlNote(r.stderr)
        return r
    }

    /// `text` without the line `keyctl session NAME` prints when it joins the keyring.
    static func withoutKeyctlNote(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("Joined session keyring:") }.joined(separator: "\n")
    }
}

@Suite("sessions: vault unlock, lock, status (kernel keyring)")
struct SessionCLITests {
    static let exitLocked: Int32 = 18
    static let exitUnavailable: Int32 = 19
    static let exitNoPassphrase: Int32 = 4

    @Test("unlock once: later processes need no passphrase, and their audit rows say so")
    func reuseAcrossProcesses() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        #expect(c.withoutPassphrase("export", "siem", "--format", "raw").status == Self.exitNoPassphrase)
        let u = c.run("unlock", "--for", "10m")
        #expect(u.status == 0 && u.out.contains("unlocked \(c.vaultPath) until "), "\(u)")
        for _ in 0..<2 {
            let r = c.withoutPassphrase("export", "siem", "--format", "raw")
            #expect(r.status == 0 && r.out == "eyJ.session-token.sig", "\(r)")
        }
        let s = c.withoutPassphrase("status", "--json")
        #expect(s.status == 0, "\(s)")
        let obj = try #require(try JSONSerialization.jsonObject(with: s.stdout) as? [String: Any])
        #expect(obj["state"] as? String == "unlocked" && obj["keyring"] as? String == "session")
        #expect((obj["seconds_left"] as? Int).map { (590...600).contains($0) } == true, "\(obj)")
        // The unlock row is sealed and names the length; the exports say they used the session.
        let unlock = try #require(c.audit(action: "unlock").last)
        let ud = unlock["details"] as? [String: String]
        #expect(unlock["sealed"] as? Bool == true && ud?["session"] == "start" && ud?["seconds"] == "600", "\(unlock)")
        let exports = c.audit(action: "export").filter { $0["outcome"] as? String == "ok" }
        #expect(exports.count == 2 && exports.allSatisfy { ($0["details"] as? [String: String])?["session"] == "keyring" })
        // Another keyring (another login session) does not see it.
        let other = try TestKeyring()
        defer { other.close() }
        var c2 = c
        c2.prefix = other.prefix
        #expect(c2.withoutPassphrase("export", "siem", "--format", "raw").status == Self.exitNoPassphrase)
        #expect(c2.withoutPassphrase("status").status == Self.exitLocked)
    }

    @Test("11c: unlock says in one line what the session allows; --quiet says nothing")
    func unlockSaysWhatItAllows() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        let u = c.run("unlock", "--for", "10m")
        let lines = u.out.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(u.status == 0 && lines.count == 2 && lines[1].isEmpty, "\(u)")
        #expect(lines.first?.hasPrefix("unlocked \(c.vaultPath) until 20") == true && lines.first?.hasSuffix("Z (10m)") == true, "\(u)")
        #expect(CLI.withoutKeyctlNote(u.stderr) == "until then any process of yours in this login session can use this vault without the passphrase (not passwd, kdf set, rekey); `vault lock` ends it now\n", "\(u)")
        let q = c.run("unlock", "--for", "10m", "--quiet")
        #expect(q.status == 0 && q.out.isEmpty && CLI.withoutKeyctlNote(q.stderr).isEmpty, "\(q)")
    }

    @Test("a 10 s session really ends: the next command needs a passphrase (exit 4 without a terminal)")
    func expiry() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        // 10 s, not 3: on a loaded CI machine more than 3 s passed between unlock and the check.
        #expect(c.run("unlock", "--for", "10s").status == 0)
        // The kernel holds the timeout (/proc/keys' fourth column: "10s" down to "1s", never "perm").
        let line = TestKeyring.keyctl(["session", ring.name, "cat", "/proc/keys"]).out
            .split(separator: "\n").first { $0.contains(" v1vault:") }
        let fields = line.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(fields.map { $0.count > 3 && (1...10).map { "\($0)s" }.contains(String($0[3])) } == true, "\(String(describing: line))")
        #expect(c.withoutPassphrase("export", "siem", "--format", "raw").status == 0)
        Thread.sleep(forTimeInterval: 11.2)
        let r = c.withoutPassphrase("export", "siem", "--format", "raw")
        #expect(r.status == Self.exitNoPassphrase && r.out.isEmpty, "\(r)")
        let s = c.withoutPassphrase("status")
        #expect(s.status == Self.exitLocked && s.out.hasPrefix("locked"), "\(s)")
    }

    @Test("passwd, kdf set and rekey need the passphrase and end every session (new salt)", arguments: ["passwd", "kdf", "rekey"])
    func passphraseChangeInvalidates(command: String) throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        #expect(c.run("unlock").status == 0)
        let args: [String] = switch command {
        case "passwd": ["passwd", "--new-passphrase-file", c.dir + "/new", "--kdf-memory", "8M", "--kdf-ops", "1"]
        case "kdf": ["kdf", "set", "--kdf-memory", "16M", "--kdf-ops", "1"]
        default: ["rekey", "--new-passphrase-file", c.dir + "/new", "--kdf-memory", "8M", "--kdf-ops", "1"]
        }
        try setupFile(c.dir + "/new", "another passphrase\n")
        // The session does not stand in for the current passphrase.
        let refused = c.run(args, stdin: nil, env: ["V1VAULT_PASSPHRASE_FILE": nil], withoutTerminal: true)
        #expect(refused.status == Self.exitNoPassphrase, "\(refused)")
        let done = c.run(args, stdin: nil)
        #expect(done.status == 0, "\(done)")
        #expect(c.withoutPassphrase("export", "siem", "--format", "raw").status == Self.exitNoPassphrase)
        #expect(c.withoutPassphrase("status").status == Self.exitLocked)
        // The command dropped the now useless session itself, and said so in the audit log.
        #expect(c.audit(action: "lock").last.map { ($0["details"] as? [String: String])?["stale"] != nil } == true)
    }

    @Test("--no-session and V1VAULT_NO_SESSION=1 ignore a live session")
    func noSession() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        #expect(c.run("unlock").status == 0)
        #expect(c.withoutPassphrase("--no-session", "export", "siem", "--format", "raw").status == Self.exitNoPassphrase)
        let env = c.run(["export", "siem", "--format", "raw"], stdin: nil,
                        env: ["V1VAULT_PASSPHRASE_FILE": nil, "V1VAULT_NO_SESSION": "1"], withoutTerminal: true)
        #expect(env.status == Self.exitNoPassphrase, "\(env)")
        // With a passphrase, --no-session works and its audit row does not claim the session.
        #expect(c.run("--no-session", "export", "siem", "--format", "raw").status == 0)
        let last = c.audit(action: "export").last
        #expect((last?["details"] as? [String: String])?["session"] == nil)
        #expect(c.withoutPassphrase("export", "siem", "--format", "raw").status == 0)
    }

    @Test("another uid that shares the session keyring can neither use nor read the session key",
          .enabled(if: getuid() == 0, "needs root to switch uid with setpriv"))
    func otherUID() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        #expect(c.run("unlock").status == 0)
        // A copy of the vault (same id and salt) that uid 65534 may open, in a directory of its own.
        let other = "/tmp/v1vault-other-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: other) }
        try FileManager.default.copyItem(atPath: c.vaultPath, toPath: other + "/vault.db")
        chown(other, 65534, 65534)
        chown(other + "/vault.db", 65534, 65534)
        var nobody = c
        nobody.prefix = ring.prefix + ["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        nobody.env["HOME"] = other
        nobody.env["V1VAULT_PATH"] = other + "/vault.db"
        let r = nobody.withoutPassphrase("export", "siem", "--format", "raw")
        #expect(r.status == Self.exitNoPassphrase && r.out.isEmpty, "\(r)")
        #expect(nobody.withoutPassphrase("status").status == Self.exitLocked)
        // The kernel itself refuses: root finds and reads the key, uid 65534 can do neither.
        let name = "v1vault:" + (try #require(try c.rows("SELECT lower(hex(vault_id)) FROM vault_header").first))
        let serial = ring.keyctl(["search", "@s", "user", name]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Int(serial) != nil)
        #expect(ring.keyctl(["pipe", serial]).status == 0)
        #expect(ring.keyctl(["search", "@s", "user", name], uid: 65534).status != 0)
        #expect(ring.keyctl(["pipe", serial], uid: 65534).status != 0)
        // Nor replace its payload (which would also drop its timeout) or re-time it.
        #expect(ring.keyctl(["padd", "user", name, "@s"], fakeHex: "00", uid: 65534).status != 0)
        #expect(ring.keyctl(["timeout", serial, "0"], uid: 65534).status != 0)
        #expect(ring.keyctl(["setperm", serial, "0x3f3f3f3f"], uid: 65534).status != 0)
        // And the owner's session still works.
        #expect(c.withoutPassphrase("export", "siem", "--format", "raw").status == 0)
    }

    /// The name `c`'s vault gives its session key, and a payload (hex) bound to its vault id and
    /// salt, unexpired for 10 minutes, whose KEK is not the vault's.
    static func plantedSession(_ c: CLI) throws -> (name: String, hex: String) {
        let name = "v1vault:" + (try #require(try c.rows("SELECT lower(hex(vault_id)) FROM vault_header").first))
        let salt = try #require(try c.rows("SELECT lower(hex(kdf_salt)) FROM vault_header").first)
        let expires = String(format: "%016llx", UInt64(Date().timeIntervalSince1970) + 600)
        return (name, "5631565345535331" + String(name.dropFirst(8)) + salt + expires + String(repeating: "ab", count: 32))
    }

    @Test("a planted, foreign or altered key is never used; bad keys are dropped, a mere mismatch is left for lock")
    func plantedKey() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        // A key of the right name, owner and permissions, bound to this vault id and salt,
        // unexpired — but holding a KEK that is not the vault's: not used, and (since a file
        // cannot tell a planted key from a real one for another copy) not removed either.
        let (name, fake) = try Self.plantedSession(c)
        let added = ring.keyctl(["padd", "user", name, "@s"], fakeHex: fake)
        let planted = added.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(added.status == 0 && ring.keyctl(["setperm", planted, "0x33080000"]).status == 0)
        let st = c.withoutPassphrase("status")
        #expect(st.status == Self.exitLocked && st.out.contains("does not open this file"), "\(st)")
        let r = c.withoutPassphrase("export", "siem", "--format", "raw")
        #expect(r.status == Self.exitNoPassphrase, "\(r)")
        #expect(ring.keyctl(["search", "@s", "user", name]).status == 0)
        // `lock` removes it, with a pending lock row saying why.
        #expect(c.withoutPassphrase("lock").status == 0)
        #expect(ring.keyctl(["search", "@s", "user", name]).status != 0)
        let lockRow = c.audit(action: "lock").last
        #expect(lockRow?["sealed"] as? Bool == false && (lockRow?["details"] as? [String: String])?["stale"] != nil, "\(String(describing: lockRow))")
        // A real session whose permissions someone widened is dropped.
        #expect(c.run("unlock").status == 0)
        let serial = ring.keyctl(["search", "@s", "user", name]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(ring.keyctl(["setperm", serial, "0x3f3f3f3f"]).status == 0)
        let s = c.withoutPassphrase("status")
        #expect(s.status == Self.exitLocked && s.out.contains("permissions were changed"), "\(s)")
        #expect(ring.keyctl(["search", "@s", "user", name]).status != 0)
        #expect(c.withoutPassphrase("export", "siem", "--format", "raw").status == Self.exitNoPassphrase)
    }

    @Test("a key of the right name owned by another uid, linked into our keyring, is ignored",
          .enabled(if: getuid() == 0, "needs root to add a key as uid 65534"))
    func foreignKeyIgnored() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        let (name, fake) = try Self.plantedSession(c)
        let foreign = ring.keyctl(["padd", "user", name, "@s"], fakeHex: fake, uid: 65534)
        #expect(foreign.status == 0, "\(foreign)")
        #expect(c.withoutPassphrase("export", "siem", "--format", "raw").status == Self.exitNoPassphrase)
        #expect(c.withoutPassphrase("status").status == Self.exitLocked)
    }

    @Test("a copy of the vault with another header (same vault id) neither uses nor ends the real session")
    func sameIDOtherFile() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        #expect(c.run("unlock").status == 0)
        var copy = c
        copy.env["V1VAULT_PATH"] = c.dir + "/copy.db"
        try FileManager.default.copyItem(atPath: c.vaultPath, toPath: c.dir + "/copy.db")
        let q = try DatabaseQueue(path: c.dir + "/copy.db")
        try q.write { db in try db.execute(sql: "UPDATE vault_header SET kdf_salt = zeroblob(16)") }
        try q.close()
        let s = copy.withoutPassphrase("status")
        #expect(s.status == Self.exitLocked && s.out.contains("another passphrase or KDF salt"), "\(s)")
        #expect(copy.withoutPassphrase("export", "siem", "--format", "raw").status == Self.exitNoPassphrase)
        // The real vault's session is still there.
        #expect(c.withoutPassphrase("export", "siem", "--format", "raw").out == "eyJ.session-token.sig")
        // A process outside this keyring (the test runner's own, which links the user keyring
        // that keeps this test's keyring alive) does not see the session: only keys linked
        // directly in a process's own session keyring count.
        var outside = c
        outside.prefix = []
        #expect(outside.withoutPassphrase("status").status == Self.exitLocked)
    }

    @Test("a forged pending unlock or lock row is refused before sealing (exit 7); genuine pending ones are sealed")
    func forgedSessionRows() throws {
        for (action, outcome, details, tokens, refused) in [
            ("unlock", "ok", #"{"session":"start","seconds":"43200"}"#, "[]", true),
            ("lock", "ok", #"{"session":"end"}"#, "[]", true),
            // Only the exact shapes v1vault writes: no extra details, no tokens, no escaped tricks.
            ("unlock", "error", #"{"seconds":"43200","until":"2099-01-01T00:00:00Z"}"#, "[]", true),
            ("lock", "ok", #"{"session":"start","stale":"x"}"#, "[]", true),
            ("lock", "ok", #"{"session":"end","note":"\"stale\":"}"#, "[]", true),
            ("lock", "ok", #"{"session":"end","stale":"x"}"#, #"[{"name":"k"}]"#, true),
            ("unlock", "error", "{}", "[]", false),
            ("unlock", "error", #"{"session":"start"}"#, "[]", false),
            ("lock", "ok", #"{"session":"end","stale":"x"}"#, "[]", false),
        ] {
            let c = try CLI.initialized()
            defer { c.cleanup() }
            try c.sql("""
                INSERT INTO audit_log (at, action, tokens, outcome, details, os_user, uid, host, pid)
                VALUES ('2026-12-01T00:00:00.000Z', '\(action)', '\(tokens)', '\(outcome)', '\(details)', 'alice', 1000, 'laptop', 1)
                """)
            let r = c.run(["add", "k"], stdin: Data("eyJ.a.b".utf8))
            if refused {
                #expect(r.status == 7 && r.stderr.contains("is not sealed, but v1vault writes such rows sealed"), "\(action) \(details): \(r)")
            } else {
                #expect(r.status == 0, "\(action) \(details): \(r)")
                #expect(c.run("audit", "verify").status == 0)
            }
        }
    }

    @Test("nothing about a session is written to disk: unlock writes only the vault's audit row")
    func nothingOnDisk() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), "strace is installed by scripts/bootstrap")
        let ring = try TestKeyring()
        defer { ring.close() }
        var c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        let log = c.dir + "/strace.log"
        let base = c.prefix
        // -x: every string with a non-ASCII byte (a key, a database page) printed whole in hex.
        c.prefix = base + ["/usr/bin/strace", "-f", "-qq", "-x", "-s", "1000000", "-o", log, "-e",
                           "trace=%file,add_key,keyctl,write,pwrite64,writev,pwritev,pwritev2,sendto,sendmsg"]
        let r = c.run("unlock")
        try #require(r.status == 0, "\(r)")
        let trace = try String(contentsOfFile: log, encoding: .utf8)
        // The key went to the kernel...
        #expect(trace.contains("add_key(\"user\", \"v1vault:"))
        // ...and every file opened for writing is the vault or its SQLite companions.
        let writable = trace.split(separator: "\n").filter {
            ($0.contains("open") || $0.contains("creat")) && ($0.contains("O_WRONLY") || $0.contains("O_RDWR") || $0.contains("O_CREAT"))
                && !$0.contains("= -1")
        }
        let paths = writable.compactMap { line -> String? in
            guard let q = line.firstIndex(of: "\""), let e = line[line.index(after: q)...].firstIndex(of: "\"") else { return nil }
            return String(line[line.index(after: q)..<e])
        }
        let allowed: Set<String> = [c.vaultPath, c.vaultPath + "-wal", c.vaultPath + "-shm", c.vaultPath + "-journal", "/dev/null", "/dev/tty"]
        #expect(!paths.isEmpty && paths.allSatisfy { allowed.contains($0) }, "\(paths)")
        // No file created by another route, and only the vault's companions removed.
        let calls = trace.split(separator: "\n").compactMap { line -> (String, String)? in
            let fields = line.split(separator: " ", maxSplits: 1)
            guard fields.count == 2, let paren = fields[1].firstIndex(of: "(") else { return nil }
            return (String(fields[1][..<paren]).trimmingCharacters(in: .whitespaces), String(fields[1]))
        }
        let creating: Set<String> = ["rename", "renameat", "renameat2", "mkdir", "mkdirat", "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat"]
        #expect(!calls.contains { creating.contains($0.0) }, "\(calls.filter { creating.contains($0.0) })")
        let unlinked = calls.filter { $0.0 == "unlink" || $0.0 == "unlinkat" }.map { $0.1 }
        #expect(unlinked.allSatisfy { $0.contains(c.vaultPath + "-") }, "\(unlinked)")
        // The KEK (read back from the kernel) left the process only through add_key: in no
        // write of any kind, and in no file of the test's directory; the passphrase in none.
        c.prefix = base
        let name = "v1vault:" + (try #require(try c.rows("SELECT lower(hex(vault_id)) FROM vault_header").first))
        let serial = ring.keyctl(["search", "@s", "user", name]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        let printed = ring.keyctl(["print", serial]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(printed.hasPrefix(":hex:") && printed.count == 5 + 160, "\(printed)")
        let kekHex = String(printed.suffix(64))
        var kek = [UInt8]()
        var i = kekHex.startIndex
        while i < kekHex.endIndex { let j = kekHex.index(i, offsetBy: 2); kek.append(UInt8(kekHex[i..<j], radix: 16)!); i = j }
        let needle = kek.map { String(format: "\\x%02x", $0) }.joined()
        let carrying = trace.split(separator: "\n").filter { $0.contains(needle) }
        #expect(carrying.count == 1 && carrying[0].contains("add_key("), "\(carrying.map { $0.prefix(60) })")
        for file in try FileManager.default.contentsOfDirectory(atPath: c.dir) {
            let data = try Data(contentsOf: URL(fileURLWithPath: c.dir + "/" + file))
            #expect(data.firstRange(of: Data(kek)) == nil, "the KEK is in \(file)")
        }
        #expect(!trace.contains("correct horse"))
    }

    @Test("where the keyring is blocked (Docker's seccomp profile), unlock says so (exit 19) and commands prompt as before")
    func unavailable() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("siem", "eyJ.tok.sig")
        var blocked = c
        blocked.prefix = [SessionCLITests.withoutKeyring]
        let u = blocked.run("unlock")
        #expect(u.status == Self.exitUnavailable, "\(u)")
        #expect(u.stderr.hasPrefix("error: cannot keep an unlocked session: the kernel keyring refused it (keyctl_get_keyring_id: operation not permitted)\nhint: a container's seccomp profile"), "\(u)")
        // Refused before the KDF: no unlock row was written at all.
        #expect(c.audit(action: "unlock").isEmpty)
        #expect(blocked.run("export", "siem", "--format", "raw").out == "eyJ.tok.sig")
        #expect(blocked.run("status").status == Self.exitUnavailable)
    }

    @Test("--for is bounded: 1s to 12h, usage error otherwise", arguments: ["0s", "13h", "721m", "15", "15d", "1.5h", "99999999s"])
    func badLength(text: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let r = c.run("unlock", "--for", text)
        #expect(r.status == 64 && r.stderr.hasPrefix("error: "), "\(r)")
        #expect(c.audit(action: "unlock").isEmpty)
    }

    static let withoutKeyring = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/without-keyring.py").path
}

extension TestKeyring {
    /// `keyctl padd …` with `fakeHex` decoded on its stdin.
    func keyctl(_ args: [String], fakeHex: String, uid: UInt32? = nil) -> (status: Int32, out: String) {
        var bytes = [UInt8]()
        var i = fakeHex.startIndex
        while i < fakeHex.endIndex {
            let j = fakeHex.index(i, offsetBy: 2)
            bytes.append(UInt8(fakeHex[i..<j], radix: 16)!)
            i = j
        }
        let drop = uid.map { ["/usr/bin/setpriv", "--reuid", "\($0)", "--regid", "\($0)", "--clear-groups"] } ?? []
        return runProgram("/usr/bin/keyctl", ["session", name] + drop + ["/usr/bin/keyctl"] + args, stdin: Data(bytes))
    }
}
