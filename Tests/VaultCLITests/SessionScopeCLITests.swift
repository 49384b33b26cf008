import Foundation
import Testing

/// `vault exec` without the session, and `vault unlock --scope user`. In SessionCLITests'
/// serialized suite: a user-scope key lives in the test runner's user keyring, where
/// `lock --all` of the other session tests would count or end it.
extension SessionCLITests {
    /// The serial of this vault's session key in `ring` (`@s` inside a test keyring, or `@u`).
    static func serial(_ c: CLI, in ringSpec: String, _ ring: TestKeyring) throws -> String {
        let name = "v1vault:" + (try #require(try c.rows("SELECT lower(hex(vault_id)) FROM vault_header").first))
        return ring.keyctl(["search", ringSpec, "user", name]).out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What `exec`'s child reports: a `vault export` of another token, then a direct read of
    /// every key its login session keyring links — listed by the child itself (the keyring
    /// lets its owner uid list it), so knowing a serial is not what stands in the way.
    static let probe = """
        "$0" export b --format raw; echo " export=$?"
        for k in $(/usr/bin/keyctl rlist "$1"); do /usr/bin/keyctl print "$k" >/dev/null 2>&1; echo "read $k=$?"; done
        """

    @Test("exec's child starts in a keyring of its own: it cannot use the login's session (exit 4) nor read its key by serial")
    func execWithoutSession() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        try c.add("b", "eyJ.other-token.sig")
        #expect(c.run("unlock", "--for", "5m").status == 0)
        let serial = try Self.serial(c, in: "@s", ring)
        try #require(Int(serial) != nil, "no session key: \(serial)")
        // The exec itself is served by the session (no passphrase anywhere, no terminal)...
        let r = c.withoutPassphrase("exec", "siem", "--", "/bin/sh", "-c", Self.probe, CLI.binary, ring.id)
        #expect(r.status == 0, "\(r)")
        // ...its child is not: the vault in it asks for a passphrase it cannot get (exit 4),
        // and the kernel refuses the child the key itself (keyctl print fails: EACCES).
        #expect(r.out == " export=4\nread \(serial)=1\n", "\(r)")
        #expect(r.stderr == "error: no passphrase: no terminal to prompt on and no passphrase source given\nhint: use --passphrase-file PATH, --passphrase-fd N or V1VAULT_PASSPHRASE_FILE\n", "\(r)")
        // The session is still there for the login's own commands.
        #expect(c.withoutPassphrase("export", "b", "--format", "raw").out == "eyJ.other-token.sig")
        let row = try #require(c.audit(action: "exec").last)
        #expect((row["details"] as? [String: String])?["keep_session"] == nil, "\(row)")
    }

    @Test("exec --keep-session leaves the child the session (audited); --no-session exec and exec without a session work")
    func execKeepSession() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        try c.add("b", "eyJ.other-token.sig")
        // No session live: exec asks for the passphrase (here: the file) and runs as ever.
        let plain = c.run("exec", "siem", "--", "/bin/sh", "-c", "echo \"$TMV1_TOKEN\"")
        #expect(plain.status == 0 && plain.out == "eyJ.session-token.sig\n", "\(plain)")
        #expect(c.run("unlock", "--for", "5m").status == 0)
        let serial = try Self.serial(c, in: "@s", ring)
        let kept = c.withoutPassphrase("exec", "--keep-session", "siem", "--", "/bin/sh", "-c", Self.probe, CLI.binary, ring.id)
        #expect(kept.status == 0 && kept.out == "eyJ.other-token.sig export=0\nread \(serial)=0\n", "\(kept)")
        let row = try #require(c.audit(action: "exec").last)
        #expect((row["details"] as? [String: String])?["keep_session"] == "true", "\(row)")
        // --no-session: the exec asks (here: the passphrase file); its child still has no session.
        let asked = c.run("--no-session", "exec", "siem", "--", "/bin/sh", "-c", Self.probe, CLI.binary, ring.id)
        #expect(asked.status == 0 && asked.out == " export=4\nread \(serial)=1\n", "\(asked)")
        #expect(c.audit(action: "exec").last.map { ($0["details"] as? [String: String])?["session"] == nil } == true)
    }

    @Test("exec fails closed when the child cannot get a keyring of its own (125, command not run); runs where keyrings are blocked")
    func execJoinFails() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.k.sig")
        let marker = c.dir + "/ran"
        var full = c
        full.prefix = [Self.withoutKeyring, "--fail-join"]
        // A full key quota (EDQUOT): the command would inherit the session, so it does not run.
        let r = full.run("exec", "k", "--", "/usr/bin/touch", marker)
        #expect(r.status == 125 && r.stderr == "error: cannot give /usr/bin/touch a session keyring of its own (keyctl_join_session_keyring: disk quota exceeded); it was not started, since it would inherit this login's unlocked sessions\n", "\(r)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        let row = try #require(c.audit(action: "exec").last)
        #expect(row["outcome"] as? String == "error", "\(row)")
        // --keep-session asks for no new keyring.
        #expect(full.run("exec", "--keep-session", "k", "--", "/usr/bin/touch", marker).status == 0)
        #expect(FileManager.default.fileExists(atPath: marker))
        // Keyrings blocked altogether (Docker's seccomp profile): no session to hide; exec runs.
        var blocked = c
        blocked.prefix = [Self.withoutKeyring]
        let b = blocked.run("exec", "k", "--", "/bin/sh", "-c", "echo \"$TMV1_TOKEN\"")
        #expect(b.status == 0 && b.out == "eyJ.k.sig\n", "\(b)")
    }

    @Test("unlock --scope user: another login's keyring uses it, status names it, the kernel times it, lock there ends it")
    func userScope() throws {
        let a = try TestKeyring(), b = try TestKeyring()
        defer { a.close(); b.close() }
        let c = try CLI.inKeyring(a)
        defer { c.cleanup(); _ = c.withoutPassphrase("lock") }
        try c.add("b", "eyJ.other-token.sig")
        var other = c
        other.prefix = b.prefix
        // The default scope stays in its login: another keyring does not see it.
        #expect(c.run("unlock", "--for", "2m").status == 0)
        #expect(other.withoutPassphrase("export", "siem", "--format", "raw").status == Self.exitNoPassphrase)
        #expect(other.withoutPassphrase("status").status == Self.exitLocked)
        // --scope user replaces it with one in the user keyring, which every login sees.
        let u = c.run("unlock", "--for", "2m", "--scope", "user")
        #expect(u.status == 0 && u.out.hasPrefix("unlocked \(c.vaultPath) until ") && u.out.hasSuffix(" (2m)\n"), "\(u)")
        #expect(u.stderr.split(separator: "\n").filter { !$0.hasPrefix("Joined session keyring: ") } == ["note: in uid \(getuid())'s user keyring: every process of yours — other logins, cron jobs, `vault exec` children — can use it until then; `vault lock` forgets it now"], "\(u)")
        #expect(try Self.serial(c, in: "@s", a).isEmpty, "the login-scope key was not dropped")
        let r = other.withoutPassphrase("export", "siem", "--format", "raw")
        #expect(r.status == 0 && r.out == "eyJ.session-token.sig", "\(r)")
        // So does a process in a brand-new anonymous session keyring.
        var fresh = c
        fresh.prefix = ["/usr/bin/keyctl", "session", "-"]
        #expect(fresh.withoutPassphrase("export", "siem", "--format", "raw").out == "eyJ.session-token.sig")
        let s = other.withoutPassphrase("status")
        #expect(s.status == 0 && s.out.hasPrefix("unlocked until ") && s.out.hasSuffix(" left), in uid \(getuid())'s user keyring (--scope user: every login)\n"), "\(s)")
        let j = other.withoutPassphrase("status", "--json")
        let obj = try #require(try JSONSerialization.jsonObject(with: j.stdout) as? [String: Any])
        #expect(obj["state"] as? String == "unlocked" && obj["keyring"] as? String == "user", "\(obj)")
        let row = try #require(c.audit(action: "unlock").last)
        #expect((row["details"] as? [String: String])?["keyring"] == "user", "\(row)")
        // The kernel expires it (/proc/keys: a timeout of at most 2m, never "perm").
        let serial = try Self.serial(c, in: "@u", a)
        let line = TestKeyring.keyctl(["session", b.name, "cat", "/proc/keys"]).out.split(separator: "\n")
            .first { $0.hasPrefix(String(format: "%08x ", Int(serial) ?? -1)) }
        let fields = line.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(fields.map { $0.count > 4 && ["1m", "2m"].contains(String($0[3])) && $0[4] == "013b0000" } == true, "\(String(describing: line))")
        // Another uid cannot read it, even inside a session keyring that links this user keyring.
        func pipe(as drop: String) -> Int32 {
            runProgram("/usr/bin/keyctl", ["session", "-", "/bin/sh", "-c", "/usr/bin/keyctl link @u @s && \(drop) /usr/bin/keyctl pipe \(serial) >/dev/null"]).status
        }
        #expect(pipe(as: "") == 0)
        if getuid() == 0 { #expect(pipe(as: "/usr/bin/setpriv --reuid 65534 --regid 65534 --clear-groups") == 1) }
        // exec's child can use it (said on stderr): a new session keyring does not hide the user keyring.
        let e = c.withoutPassphrase("exec", "siem", "--", "/bin/sh", "-c", "\"$0\" export b --format raw; echo \" export=$?\"", CLI.binary)
        #expect(e.status == 0 && e.out == "eyJ.other-token.sig export=0\n", "\(e)")
        #expect(e.stderr.hasPrefix("note: this vault's session is in your user keyring (`vault unlock --scope user`): /bin/sh can use it too, as every process of yours can\n"), "\(e)")
        // `vault lock` in the other login ends it for everyone, audited.
        let l = other.withoutPassphrase("lock")
        #expect(l.status == 0 && l.out == "locked \(c.vaultPath)\n", "\(l)")
        #expect(c.withoutPassphrase("status").status == Self.exitLocked)
        #expect(c.withoutPassphrase("export", "siem", "--format", "raw").status == Self.exitNoPassphrase)
        let lockRow = try #require(c.audit(action: "lock").last)
        #expect(lockRow["sealed"] as? Bool == true && (lockRow["details"] as? [String: String])?["session"] == "end", "\(lockRow)")
        // lock --all ends a user-scope session too.
        #expect(c.run("unlock", "--for", "2m", "--scope", "user").status == 0)
        let all = other.withoutPassphrase("lock", "--all")
        #expect(all.status == 0 && all.out == "locked 1 session\n", "\(all)")
        #expect(fresh.withoutPassphrase("status").status == Self.exitLocked)
        #expect(c.run("unlock", "--scope", "everyone").status == 64)
    }

    @Test("a session key from before scopes (owner-readable permissions) is dropped and says why")
    func oldPermissions() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        let c = try CLI.inKeyring(ring)
        defer { c.cleanup() }
        #expect(c.run("unlock").status == 0)
        let serial = try Self.serial(c, in: "@s", ring)
        #expect(ring.keyctl(["setperm", serial, "0x013a0000"]).status == 0)
        let s = c.withoutPassphrase("status")
        #expect(s.status == Self.exitLocked && s.out == "locked: a bad session key was dropped (the session was started by an older v1vault; unlock again)\n", "\(s)")
        #expect(c.withoutPassphrase("export", "siem", "--format", "raw").status == Self.exitNoPassphrase)
    }
}

extension SessionCLITests {
    /// Whether this test runner has no login-session keyring (its @s is the uid's default
    /// user-session keyring, `_uid_ses.UID`), as in a container or an ssh login without PAM.
    static let runnerHasNoSessionKeyring: Bool =
        runProgram("/usr/bin/keyctl", ["rdescribe", "@s"]).out.contains(";_uid_ses.")

    @Test("without a login-session keyring, exec says its command can join the keyring the session is in (it can)",
          .enabled(if: runnerHasNoSessionKeyring, "the test runner has a login-session keyring of its own"))
    func execNotesUserSessionFallback() throws {
        let c = try CLI.initialized()
        defer { _ = c.run("lock"); c.cleanup() }
        try c.add("siem", "eyJ.session-token.sig")
        try c.add("b", "eyJ.other-token.sig")
        let u = c.run("unlock", "--for", "1m", "--json")
        #expect(u.status == 0 && u.out.contains(#""keyring":"user-session""#), "\(u)")
        let uid = getuid()
        let join = "/usr/bin/keyctl session _uid_ses.\(uid) \"$0\" export b --format raw 2>/dev/null; echo \" export=$?\""
        let r = c.withoutPassphrase("exec", "siem", "--", "/bin/sh", "-c", join, CLI.binary)
        // The command joined the keyring by name and used the session...
        #expect(r.status == 0 && r.out.hasSuffix("eyJ.other-token.sig export=0\n"), "\(r)")
        // ...as exec said it could.
        #expect(r.stderr.hasPrefix("note: this vault's session is in uid \(uid)'s default user-session keyring (there is no login-session keyring here): /bin/sh can use it too, by joining that keyring (`keyctl session _uid_ses.\(uid)`)\n"), "\(r)")
    }
}
