import Foundation
import Testing

/// `vault exec` without the session (`vault unlock --scope user`: SessionUserKeyringCLITests.swift).
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

}
