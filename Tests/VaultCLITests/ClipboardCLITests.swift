import Foundation
import Testing

/// `vault copy` (out of process): OSC 52 on a real pty, wl-copy and xclip as fakes on PATH
/// that record what they were given, and the refusal when there is no clipboard at all.
@Suite("copy: OSC 52, wl-copy, xclip and clearing (out of process)")
struct ClipboardCLITests {
    static let token = "eyJhbGciOiJIUzI1NiJ9.eyJjaWQiOiJjbGlwIn0.c2lnbmF0dXJlX2NsaXA"

    /// A vault with `siem` holding `token`.
    func vault() throws -> CLI {
        let c = try CLI.initialized()
        try c.add("siem", Self.token)
        return c
    }

    /// Fake `wl-copy`/`wl-paste` or `xclip` in DIR/bin: the copy's stdin goes to DIR/clipboard
    /// (0600), each call's argv is appended to DIR/calls (one line per call, words joined by
    /// spaces), the reader prints DIR/clipboard (or "copied since" with DIR/changed present) and
    /// writes the clearer's pid (its parent) to DIR/reader-parent.
    func fakeTools(_ c: CLI) throws -> String {
        let bin = c.dir + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let d = c.dir
        let reader = """
            /usr/bin/keyctl rdescribe @s > '\(d)/reader-keyring' 2>&1
            echo $PPID > '\(d)/reader-parent.tmp' && mv '\(d)/reader-parent.tmp' '\(d)/reader-parent'
            if [ -e '\(d)/changed' ]; then printf 'copied since'; else cat '\(d)/clipboard'; fi
            """
        let scripts = [
            "wl-copy": """
                #!/bin/sh
                umask 077
                echo "wl-copy $*" >> '\(d)/calls'
                if [ "$1" = --clear ]; then : > '\(d)/clipboard'; exit 0; fi
                cat > '\(d)/clipboard'
                """,
            "wl-paste": "#!/bin/sh\necho \"wl-paste $*\" >> '\(d)/calls'\n" + reader,
            "xclip": """
                #!/bin/sh
                umask 077
                echo "xclip $*" >> '\(d)/calls'
                if [ "$3" = -o ]; then
                \(reader)
                exit 0
                fi
                cat > '\(d)/clipboard'
                """,
        ]
        for (name, text) in scripts {
            let path = bin + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: 0o700]) else {
                throw CocoaError(.fileWriteUnknown)
            }
        }
        return bin + ":/usr/bin:/bin"
    }

    func read(_ path: String) -> String? { (try? String(contentsOfFile: path, encoding: .utf8)) }

    /// Waits (up to a generous 60 s, never asserting how long it took) until `done` holds.
    func eventually(_ done: () -> Bool) -> Bool {
        for _ in 0..<600 {
            if done() { return true }
            usleep(100_000)
        }
        return done()
    }

    /// Whether process `pid` has ended (gone, or a zombie waiting for init).
    func ended(_ pid: Int32) -> Bool {
        guard let stat = read("/proc/\(pid)/stat") else { return true }
        return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
    }

    @Test("wl-copy gets the key on stdin only, never in argv; the clearer empties it once it still holds the key; audited as copy")
    func wlCopyAndClear() throws {
        let c = try vault()
        defer { c.cleanup() }
        let path = try fakeTools(c)
        let r = c.run(["copy", "siem", "--clear", "1"], stdin: nil, env: ["PATH": path, "WAYLAND_DISPLAY": "wayland-test", "DISPLAY": ":99"])
        #expect(r.status == 0, "\(r)")
        #expect(r.out == "" && r.stderr == "copied siem to the clipboard with wl-copy; cleared in 1 s if it still holds the key\n", "\(r)")
        #expect(read(c.dir + "/clipboard") == Self.token)
        let mode = try FileManager.default.attributesOfItem(atPath: c.dir + "/clipboard")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // The clearer reads the clipboard back, sees the key, and clears it.
        #expect(eventually { read(c.dir + "/calls")?.contains("wl-copy --clear") == true }, "\(read(c.dir + "/calls") ?? "")")
        let calls = read(c.dir + "/calls") ?? ""
        #expect(calls == "wl-copy --type text/plain\nwl-paste --no-newline\nwl-copy --clear\n", "\(calls)")
        #expect(!calls.contains(Self.token) && !calls.contains("eyJ"))
        #expect(read(c.dir + "/clipboard") == "")
        let rows = c.audit(action: "copy")
        #expect(rows.count == 1 && (rows.first?["details"] as? [String: String]) == ["via": "wl-copy", "clear": "1"], "\(rows)")
    }

    @Test("the clearer's clipboard tools run without the login's session keyring (as exec's command does)",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/keyctl"), "keyctl is not installed (scripts/bootstrap installs keyutils)"))
    func clearerWithoutSession() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        var c = try vault()
        defer { c.cleanup() }
        c.prefix = ring.prefix
        let path = try fakeTools(c)
        let r = c.run(["copy", "siem", "--clear", "1"], stdin: nil, env: ["PATH": path, "WAYLAND_DISPLAY": "wayland-test"])
        #expect(r.status == 0, "\(r)")
        #expect(eventually { read(c.dir + "/reader-parent") != nil })
        let described = read(c.dir + "/reader-keyring") ?? ""
        // keyctl rdescribe: "keyring;UID;GID;PERM;NAME"; an anonymous session keyring is "_ses".
        #expect(described.hasPrefix("keyring;") && described.hasSuffix(";_ses\n") && !described.contains(ring.name), "\(described)")
    }

    @Test("a clipboard tool that fails: the command fails and the audit log says the copy did not happen")
    func toolFails() throws {
        let c = try vault()
        defer { c.cleanup() }
        let bin = c.dir + "/failing"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: bin + "/wl-copy", contents: Data("#!/bin/sh\ncat >/dev/null\nexit 3\n".utf8), attributes: [.posixPermissions: 0o700]))
        let r = c.run(["copy", "siem"], stdin: nil, env: ["PATH": bin + ":/usr/bin:/bin", "WAYLAND_DISPLAY": "wayland-test"])
        #expect(r.status == 1 && r.stderr.contains("nothing was copied"), "\(r)")
        let rows = c.audit(action: "copy")
        #expect(rows.map { $0["outcome"] as? String } == ["ok", "error"], "\(rows)")
        #expect((rows.last?["details"] as? [String: String])?["stage"] == "clipboard", "\(rows)")
        #expect(c.run("audit", "verify").status == 0)
    }

    @Test("something copied since is left alone: the clearer reads it back and does not clear")
    func clearLeavesNewerCopy() throws {
        let c = try vault()
        defer { c.cleanup() }
        let path = try fakeTools(c)
        // The user copied something else before the clearer looks.
        guard FileManager.default.createFile(atPath: c.dir + "/changed", contents: Data()) else { throw CocoaError(.fileWriteUnknown) }
        let r = c.run(["copy", "siem", "--clear", "1"], stdin: nil, env: ["PATH": path, "WAYLAND_DISPLAY": "wayland-test"])
        #expect(r.status == 0, "\(r)")
        #expect(eventually { read(c.dir + "/reader-parent") != nil })
        let clearer = try #require(Int32((read(c.dir + "/reader-parent") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(eventually { ended(clearer) }, "the clearer \(clearer) is still running")
        #expect(read(c.dir + "/calls") == "wl-copy --type text/plain\nwl-paste --no-newline\n")
        #expect(read(c.dir + "/clipboard") == Self.token)
    }

    @Test("xclip: -selection clipboard, the key on stdin; cleared by an empty copy")
    func xclip() throws {
        let c = try vault()
        defer { c.cleanup() }
        let path = try fakeTools(c)
        let r = c.run(["copy", "siem", "--clear", "1"], stdin: nil, env: ["PATH": path, "DISPLAY": ":99"])
        #expect(r.status == 0 && r.stderr == "copied siem to the clipboard with xclip; cleared in 1 s if it still holds the key\n", "\(r)")
        #expect(eventually { read(c.dir + "/calls")?.split(separator: "\n").count == 3 })
        #expect(read(c.dir + "/calls") == "xclip -selection clipboard\nxclip -selection clipboard -o\nxclip -selection clipboard\n")
        #expect(read(c.dir + "/clipboard") == "")
    }

    @Test("--via forces a method; one that cannot work here is refused with exit 29, nothing revealed")
    func forcedUnavailable() throws {
        let c = try vault()
        defer { c.cleanup() }
        let path = try fakeTools(c)
        let r = c.run(["copy", "siem", "--via", "xclip"], stdin: nil, env: ["PATH": path, "WAYLAND_DISPLAY": "wayland-test"])
        #expect(r.status == 29, "\(r)")
        #expect(r.stderr == "error: cannot copy with xclip: DISPLAY is not set (xclip); nothing was copied\nhint: leave out --via to use whatever works here, or `vault get NAME` to print the key\n", "\(r)")
        #expect(read(c.dir + "/calls") == nil && c.audit(action: "copy").isEmpty)
        let bad = c.run("copy", "siem", "--clear", "-1")
        #expect(bad.status == 64, "\(bad)")
    }

    @Test("no terminal and no tool: exit 29, the plain reason, no passphrase asked, nothing revealed or audited")
    func nowhere() throws {
        let c = try vault()
        defer { c.cleanup() }
        let before = try c.rows("SELECT count(*) FROM audit_log")
        // No passphrase source either: the refusal comes before the unlock.
        let r = c.runWithoutTerminal("copy", "siem", env: ["TERM": "xterm-256color", "V1VAULT_PASSPHRASE_FILE": nil])
        #expect(r.status == 29, "\(r)")
        #expect(r.out == "")
        #expect(r.stderr == """
            error: no clipboard to copy to: WAYLAND_DISPLAY is not set (wl-copy), DISPLAY is not set (xclip), no terminal for OSC 52 (cannot open /dev/tty); nothing was copied
            hint: on a desktop, install wl-clipboard (Wayland) or xclip (X11); over SSH, run it in a terminal that takes OSC 52; `vault get NAME` prints the key instead

            """, "\(r)")
        #expect(try c.rows("SELECT count(*) FROM audit_log") == before)
        let dumb = c.run(["copy", "siem"], stdin: nil, env: ["TERM": "dumb"])
        #expect(dumb.status == 29 && dumb.stderr.hasPrefix("error: no clipboard to copy to: WAYLAND_DISPLAY is not set (wl-copy), DISPLAY is not set (xclip), TERM=dumb cannot take OSC 52; nothing was copied\n"), "\(dumb)")
    }

    @Test("OSC 52 on a terminal: ESC ] 52 ; c ; base64(key) BEL, then the empty selection that clears it")
    func osc52() throws {
        let c = try vault()
        defer { c.cleanup() }
        let set = "\u{1B}]52;c;" + Data(Self.token.utf8).base64EncodedString() + "\u{07}"
        let cleared = "\u{1B}]52;c;\u{07}"
        // On a new pty (its controlling terminal), waiting for each sequence in turn (30 s
        // each, a safety net only); the passphrase from the file, as the pty runner drops
        // V1VAULT_PASSPHRASE_FILE.
        var t = c
        t.env["TERM"] = "xterm-256color"
        let r = TerminalTests().onTTYCommand(t, [CLI.binary, "--passphrase-file", c.passphraseFile, "copy", "siem", "--clear", "1"], [(set, ""), (cleared, "")])
        #expect(r.status == 0, "\(r.output.debugDescription)")
        let setAt = try #require(r.output.range(of: set), "\(r.output.debugDescription)")
        let clearedAt = try #require(r.output.range(of: cleared), "\(r.output.debugDescription)")
        #expect(setAt.upperBound <= clearedAt.lowerBound)
        #expect(r.output.contains("sent siem to the terminal's clipboard (OSC 52); emptied in 1 s (whatever it holds then: a terminal cannot be asked)"), "\(r.output.debugDescription)")
        // The key itself never reaches the screen, only its base64 inside the sequence.
        #expect(!r.output.contains(Self.token))
        let rows = c.audit(action: "copy")
        #expect(rows.count == 1 && (rows.first?["details"] as? [String: String]) == ["via": "osc52", "clear": "1"], "\(rows)")
    }

    @Test("--clear 0 starts no clearer (the terminal closes with no clearing sequence); inside tmux a note says what tmux needs")
    func osc52NoClearInTmux() throws {
        let c = try vault()
        defer { c.cleanup() }
        let set = "\u{1B}]52;c;" + Data(Self.token.utf8).base64EncodedString() + "\u{07}"
        var t = c
        t.env["TERM"] = "screen-256color"
        t.env["TMUX"] = "/tmp/tmux-1000/default,1234,0"
        let r = TerminalTests().onTTYCommand(t, [CLI.binary, "--passphrase-file", c.passphraseFile, "copy", "siem", "--clear", "0"], [(set, "")])
        #expect(r.status == 0, "\(r.output.debugDescription)")
        // The driver read until every holder of the terminal had closed it: nothing is left to clear.
        #expect(!r.output.contains("\u{1B}]52;c;\u{07}"), "\(r.output.debugDescription)")
        #expect(r.output.contains("sent siem to the terminal's clipboard (OSC 52); not cleared (--clear 0)"), "\(r.output.debugDescription)")
        #expect(r.output.contains("inside tmux this reaches the clipboard only with `set -g set-clipboard on`"), "\(r.output.debugDescription)")
    }
}
