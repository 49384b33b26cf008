import Foundation
import Testing

extension SessionCLITests {
    /// The session tests that use keyrings every test shares: the test runner's user keyring
    /// (`unlock --scope user`), which `lock --all` also counts and ends, and its default
    /// user-session keyring. Serialized among themselves; every other session test keeps to a
    /// keyring of its own (TestKeyring) and runs in parallel.
    @Suite("sessions in shared keyrings: lock --all, --scope user, the user-session fallback", .serialized)
    struct UserKeyring {
        @Test("lock forgets the session at once and is audited; lock --all forgets every vault's")
        func lock() throws {
            let ring = try TestKeyring()
            defer { ring.close() }
            let c = try CLI.inKeyring(ring)
            var d = try CLI.initialized()
            d.prefix = ring.prefix
            defer { c.cleanup(); d.cleanup() }
            #expect(c.run("unlock").status == 0 && d.run("unlock").status == 0)
            let l = c.withoutPassphrase("lock")
            #expect(l.status == 0 && l.out == "locked \(c.vaultPath)\n", "\(l)")
            #expect(c.withoutPassphrase("export", "siem", "--format", "raw").status == SessionCLITests.exitNoPassphrase)
            #expect(c.withoutPassphrase("status").status == SessionCLITests.exitLocked)
            #expect(c.withoutPassphrase("lock").out == "\(c.vaultPath) was not unlocked\n")
            let row = c.audit(action: "lock").last
            #expect(row?["sealed"] as? Bool == true && (row?["details"] as? [String: String])?["session"] == "end", "\(String(describing: row))")
            // d is still unlocked until lock --all.
            #expect(d.withoutPassphrase("status").status == 0)
            let all = d.withoutPassphrase("lock", "--all")
            #expect(all.status == 0 && all.out == "locked 1 session\n", "\(all)")
            #expect(d.withoutPassphrase("status").status == SessionCLITests.exitLocked)
        }

        @Test("lock --all --json prints the locked state and how many sessions it ended")
        func lockAllJSON() throws {
            let ring = try TestKeyring()
            defer { ring.close() }
            let c = try CLI.inKeyring(ring)
            defer { c.cleanup() }
            #expect(c.run("unlock", "--for", "5m").status == 0)
            let r = c.withoutPassphrase("lock", "--all", "--json")
            let all = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], "\(r)")
            #expect(r.status == 0 && all["state"] as? String == "locked" && all["sessions"] as? Int == 1, "\(r)")
            let again = try #require(try JSONSerialization.jsonObject(with: c.withoutPassphrase("lock", "--all", "--json").stdout) as? [String: Any])
            #expect(again["sessions"] as? Int == 0)
        }

        @Test("unlock --scope user: another uid cannot read the key, even with this user keyring linked into its session keyring",
              .enabled(if: getuid() == 0, "needs root to switch to uid 65534 with setpriv"))
        func userScopeOtherUID() throws {
            let a = try TestKeyring()
            defer { a.close() }
            let c = try CLI.inKeyring(a)
            // Locked before the vault is removed: the key sits in the user keyring every test shares.
            defer { _ = c.withoutPassphrase("lock"); c.cleanup() }
            #expect(c.run("unlock", "--for", "2m", "--scope", "user").status == 0)
            let serial = try SessionCLITests.serial(c, in: "@u", a)
            func pipe(as drop: String) -> Int32 {
                runProgram("/usr/bin/keyctl", ["session", "-", "/bin/sh", "-c", "/usr/bin/keyctl link @u @s && \(drop) /usr/bin/keyctl pipe \(serial) >/dev/null"]).status
            }
            #expect(pipe(as: "") == 0, "the control: this uid reads it the same way")
            #expect(pipe(as: "/usr/bin/setpriv --reuid 65534 --regid 65534 --clear-groups") == 1)
            #expect(c.withoutPassphrase("lock").out == "locked \(c.vaultPath)\n")
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
            #expect(other.withoutPassphrase("export", "siem", "--format", "raw").status == SessionCLITests.exitNoPassphrase)
            #expect(other.withoutPassphrase("status").status == SessionCLITests.exitLocked)
            // --scope user replaces it with one in the user keyring, which every login sees.
            let u = c.run("unlock", "--for", "2m", "--scope", "user")
            #expect(u.status == 0 && u.out.hasPrefix("unlocked \(c.vaultPath) until ") && u.out.hasSuffix(" (2m)\n"), "\(u)")
            #expect(u.stderr.split(separator: "\n").filter { !$0.hasPrefix("Joined session keyring: ") } == ["note: in uid \(getuid())'s user keyring: every process of yours — other logins, cron jobs, `vault exec` children — can use it until then; `vault lock` forgets it now"], "\(u)")
            #expect(try SessionCLITests.serial(c, in: "@s", a).isEmpty, "the login-scope key was not dropped")
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
            let serial = try SessionCLITests.serial(c, in: "@u", a)
            let line = TestKeyring.keyctl(["session", b.name, "cat", "/proc/keys"]).out.split(separator: "\n")
                .first { $0.hasPrefix(String(format: "%08x ", Int(serial) ?? -1)) }
            let fields = line.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
            #expect(fields.map { $0.count > 4 && ["1m", "2m"].contains(String($0[3])) && $0[4] == "013b0000" } == true, "\(String(describing: line))")
            // Another uid cannot read it, even inside a session keyring that links this user keyring.
            func pipe(as drop: String) -> Int32 {
                runProgram("/usr/bin/keyctl", ["session", "-", "/bin/sh", "-c", "/usr/bin/keyctl link @u @s && \(drop) /usr/bin/keyctl pipe \(serial) >/dev/null"]).status
            }
            #expect(pipe(as: "") == 0)
            // (Another uid's attempt: userScopeOtherUID, which needs root.)
            // exec's child can use it (said on stderr): a new session keyring does not hide the user keyring.
            let e = c.withoutPassphrase("exec", "siem", "--", "/bin/sh", "-c", "\"$0\" export b --format raw; echo \" export=$?\"", CLI.binary)
            #expect(e.status == 0 && e.out == "eyJ.other-token.sig export=0\n", "\(e)")
            #expect(e.stderr.hasPrefix("note: this vault's session is in your user keyring (`vault unlock --scope user`): /bin/sh can use it too, as every process of yours can\n"), "\(e)")
            // `vault lock` in the other login ends it for everyone, audited.
            let l = other.withoutPassphrase("lock")
            #expect(l.status == 0 && l.out == "locked \(c.vaultPath)\n", "\(l)")
            #expect(c.withoutPassphrase("status").status == SessionCLITests.exitLocked)
            #expect(c.withoutPassphrase("export", "siem", "--format", "raw").status == SessionCLITests.exitNoPassphrase)
            let lockRow = try #require(c.audit(action: "lock").last)
            #expect(lockRow["sealed"] as? Bool == true && (lockRow["details"] as? [String: String])?["session"] == "end", "\(lockRow)")
            // lock --all ends a user-scope session too.
            #expect(c.run("unlock", "--for", "2m", "--scope", "user").status == 0)
            let all = other.withoutPassphrase("lock", "--all")
            #expect(all.status == 0 && all.out == "locked 1 session\n", "\(all)")
            #expect(fresh.withoutPassphrase("status").status == SessionCLITests.exitLocked)
            #expect(c.run("unlock", "--scope", "everyone").status == 64)
        }

        @Test("without a login-session keyring, exec says its command can join the keyring the session is in (it can)",
              .enabled(if: SessionCLITests.runnerHasNoSessionKeyring, "the test runner has a login-session keyring of its own"))
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
}
