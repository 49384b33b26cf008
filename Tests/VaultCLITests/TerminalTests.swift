import Foundation
import Testing
import TestSupport

@Suite("prompts on a real terminal (pty)")
struct TerminalTests {
    static let driver = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/pty-drive.py").path

    /// Runs `vault ARGS` on a pty, answering `steps`; no passphrase file in the environment.
    func onTTY(_ c: CLI, _ args: [String], _ steps: [(String, String)]) -> (status: Int, output: String, echo: Bool?) {
        onTTYCommand(c, [CLI.binary] + args, steps)
    }

    /// Runs any command line on a pty (the same environment).
    func onTTYCommand(_ c: CLI, _ argv: [String], _ steps: [(String, String)]) -> (status: Int, output: String, echo: Bool?) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var env = c.env
        env["V1VAULT_PASSPHRASE_FILE"] = nil
        p.environment = env
        let stepsJSON = String(decoding: try! JSONSerialization.data(withJSONObject: steps.map { [$0.0, $0.1] }), as: UTF8.self)
        p.arguments = ["python3", Self.driver, stepsJSON] + argv
        let out = Pipe()
        p.standardOutput = out
        try! p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let obj = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        return (obj["status"] as? Int ?? -999, obj["output"] as? String ?? String(decoding: data, as: UTF8.self), obj["echo"] as? Bool)
    }

    @Test("init asks twice with echo off; the passphrase never appears on screen")
    func initTwice() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let r = onTTY(c, ["init", "--kdf-memory", "8M", "--kdf-ops", "1"],
                      [("New vault passphrase: ", "tty-secret-pw\r"), ("Repeat passphrase: ", "tty-secret-pw\r")])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("created vault") && !r.output.contains("tty-secret-pw"))
        // The same passphrase from a file opens it.
        let file = c.dir + "/pw2"
        try setupFile(file, "tty-secret-pw\n")
        #expect(c.run("audit", "head", env: ["V1VAULT_PASSPHRASE_FILE": file]).status == 0)
    }

    @Test("a typo in the repeat asks again; three mismatches fail with exit 4 and create nothing")
    func mismatch() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let new = "New vault passphrase: ", rep = "Repeat passphrase: "
        let r = onTTY(c, ["init", "--kdf-memory", "8M", "--kdf-ops", "1"],
                      [(new, "one long passphrase\r"), (rep, "two\r"), (new, "one long passphrase\r"), (rep, "three\r"),
                       (new, "one long passphrase\r"), (rep, "four\r")])
        #expect(r.status == 4 && r.output.contains("the passphrases do not match; try again") && r.output.contains("error: the passphrases do not match"), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: c.vaultPath))
        let ok = onTTY(c, ["init", "--kdf-memory", "8M", "--kdf-ops", "1"],
                       [(new, "one long passphrase\r"), (rep, "one long passhrase\r"), (new, "one long passphrase\r"), (rep, "one long passphrase\r")])
        #expect(ok.status == 0 && ok.output.contains("created vault"), "\(ok.output)")
        #expect(ok.output.contains("next: `vault add NAME`") && ok.output.contains("it cannot be recovered"))
    }

    @Test("init refuses an empty passphrase at once and makes a weak one be confirmed")
    func weakPassphrase() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let new = "New vault passphrase: ", rep = "Repeat passphrase: "
        // Empty: asked again straight away. "abc": weak, declined, asked again. "password123!":
        // weak (a common password), accepted. Then the repeat.
        let r = onTTY(c, ["init", "--kdf-memory", "8M", "--kdf-ops", "1"],
                      [(new, "\r"), ("the passphrase cannot be empty", ""), (new, "abc\r"), ("Use it anyway? [y/N] ", "n\r"),
                       (new, "password123!\r"), ("Use it anyway? [y/N] ", "y\r"), (rep, "password123!\r")])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("warning: this passphrase is weak (fewer than 12 characters)"))
        #expect(r.output.contains("warning: this passphrase is weak (a common password with digits or symbols around it)"))
        // From a file, a weak passphrase is a warning on stderr, not a question.
        let d = try CLI(passphrase: "aaaaaaaaaaaaaaaa")
        defer { d.cleanup() }
        let f = d.run("init", "--kdf-memory", "8M", "--kdf-ops", "1")
        #expect(f.status == 0 && f.stderr.contains("warning: this passphrase is weak (one character repeated)"), "\(f)")
    }

    @Test("Ctrl-C and Ctrl-D at a prompt cancel with exit 16", arguments: [("\u{03}", "interrupted"), ("\u{04}", "end of input")])
    func cancel(key: String, words: String) throws {
        let c = try CLI()
        defer { c.cleanup() }
        let r = onTTY(c, ["init", "--kdf-memory", "8M", "--kdf-ops", "1"], [("New vault passphrase: ", key)])
        #expect(r.status == 16 && r.output.contains("error: cancelled: \(words) at the passphrase prompt"), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: c.vaultPath))
    }

    @Test("add reads the token from a hidden prompt; backspace edits it")
    func addOnTTY() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let r = onTTY(c, ["add", "k"], [("Paste the Vision One API key (input hidden): ", "eyJ.hiddenX\u{7f}-tok.sig\r"),
                                         ("Vault passphrase: ", "correct horse battery\r")])
        #expect(r.status == 0 && r.output.contains("stored k version 1"), "\(r.output)")
        #expect(!r.output.contains("eyJ"))
        #expect(c.run("show", "k", "--reveal").out.hasSuffix("token            eyJ.hidden-tok.sig\n"))
        // A name in use fails before anything is asked.
        let dup = onTTY(c, ["add", "k"], [])
        #expect(dup.status == 12 && dup.output.hasPrefix("error: a token named k already exists") && !dup.output.contains("Paste"), "\(dup.output)")
    }

    /// A vault at the default cost (256M, 3 passes): its KDF runs long after the pty driver has
    /// answered, so what the driver sends once a prompt's line ends lands while Argon2id runs.
    static func slowKDFVault() throws -> CLI {
        let c = try CLI()
        let created = c.run("init", "--kdf-memory", "256M", "--kdf-ops", "3")
        guard created.status == 0 else {
            c.cleanup()
            throw TestSetupError(description: "init failed: \(created)")
        }
        return c
    }

    @Test("a key pasted while the KDF checks a wrong passphrase is never shown, nor taken as the next try")
    func pasteDuringKDF() throws {
        // The second paste lands while Argon2id checks the wrong passphrase.
        let c = try Self.slowKDFVault()
        defer { c.cleanup() }
        let key = "eyJhbGciOiJSUzI1NiJ9.eyJwYXN0ZWQiOiJkdXJpbmcta2RmIn0.UGFzdGVkX0R1cmluZ19LREY-sig"
        let paste = "Paste the Vision One API key (input hidden): ", prompt = "Vault passphrase: "
        let r = onTTY(c, ["add", "k"], [(paste, key + "\r"), (prompt, "wrong passphrase\r"),
                                         // The prompt's line ends: Argon2id is running. Paste the key again, as if asked.
                                         ("\n", key + "\r"),
                                         (prompt, "correct horse battery\r")])
        #expect(r.status == 0 && r.output.contains("stored k version 1"), "\(r.output)")
        // No 6-byte piece of the key reached the screen.
        let bytes = Array(key.utf8), shown = r.output
        let pieces = (0...(bytes.count - 6)).map { String(decoding: bytes[$0..<($0 + 6)], as: UTF8.self) }
        #expect(pieces.count == bytes.count - 5 && pieces.filter { shown.contains($0) }.isEmpty, "the key was echoed: \(shown)")
        // Whether the paste was discarded depends on it landing before the next prompt: that is
        // typeAheadDiscarded's job, without timing. Here only what holds either way.
        #expect(r.output.contains("wrong passphrase, try again (2 left)"), "\(r.output)")
        #expect(r.echo == true, "the terminal was left without echo")
        #expect(c.run("show", "k", "--reveal").out.hasSuffix("token            \(key)\n"))
    }

    @Test("import - at a terminal reads the pasted keys with echo off; Ctrl-D ends them")
    func importHidden() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let r = onTTY(c, ["import", "-"], [("then press Ctrl-D on an empty line", "alpha=eyJ.import.hidden-alpha\rbeta=eyJ.import.hidden-beta\r\u{04}"),
                                           ("Vault passphrase: ", "correct horse battery\r")])
        #expect(r.status == 0 && r.output.contains("imported 2 tokens"), "\(r.output)")
        #expect(!r.output.contains("hidden-alpha") && !r.output.contains("hidden-beta") && !r.output.contains("eyJ.import"), "\(r.output)")
        #expect(r.echo == true, "the terminal was left without echo")
        #expect(c.run("get", "beta").out == "eyJ.import.hidden-beta\n")
    }

    @Test("type-ahead is discarded before a prompt: a key sent with the passphrase line is not the next try")
    func typeAheadDiscarded() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let key = "eyJhbGciOiJSUzI1NiJ9.eyJ0eXBlZCI6ImFoZWFkIn0.VHlwZWRBaGVhZA-sig"
        let paste = "Paste the Vision One API key (input hidden): ", prompt = "Vault passphrase: "
        // One write: the wrong passphrase's line and, behind it, the key's. The second line is in
        // the terminal's buffer before the first is even read, so nothing depends on timing.
        let r = onTTY(c, ["add", "k"], [(paste, key + "\r"), (prompt, "wrong passphrase\r" + key + "\r"),
                                         (prompt, "correct horse battery\r")])
        #expect(r.status == 0 && r.output.contains("stored k version 1"), "\(r.output)")
        #expect(r.output.contains("wrong passphrase, try again (2 left)") && !r.output.contains("(1 left)"), "\(r.output)")
        #expect(r.echo == true, "the terminal was left without echo")
    }

    @Test("an empty paste asks again, three tries in all, before any passphrase prompt; then exit 13")
    func emptyPaste() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let paste = "Paste the Vision One API key (input hidden): "
        let r = onTTY(c, ["add", "k"], [(paste, "\r"), ("nothing was pasted; try again (2 left)", ""), (paste, "  \r"),
                                         ("nothing was pasted; try again (1 left)", ""), (paste, "\r")])
        #expect(r.status == 13 && r.output.hasSuffix("error: invalid token: empty input\r\n"), "\(r.output)")
        #expect(r.output.components(separatedBy: paste).count - 1 == 3 && !r.output.contains("Vault passphrase"), "\(r.output)")
        #expect(r.echo == true, "the terminal was left without echo")
        #expect(c.run("show", "k").status == 9)
        // rotate: a key on the third try is stored.
        try c.add("k", "eyJ.first.sig")
        let newPaste = "Paste the new Vision One API key (input hidden): "
        let ok = onTTY(c, ["rotate", "k"], [(newPaste, "\r"), (newPaste, "\r"), (newPaste, "eyJ.third.sig\r"),
                                             ("Vault passphrase: ", "correct horse battery\r")])
        #expect(ok.status == 0 && ok.output.contains("rotated k: version 2 is current"), "\(ok.output)")
        #expect(ok.output.components(separatedBy: newPaste).count - 1 == 3, "\(ok.output)")
        #expect(c.run("export", "k", "--format", "raw").out == "eyJ.third.sig")
    }

    @Test("remove asks for confirmation on a terminal")
    func removeConfirm() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "tok")
        let no = onTTY(c, ["remove", "k"], [("[y/N] ", "n\r")])
        #expect(no.status == 16, "\(no.output)")
        #expect(c.run("show", "k").status == 0)
        let yes = onTTY(c, ["remove", "k"], [("[y/N] ", "y\r"), ("Vault passphrase: ", "correct horse battery\r")])
        #expect(yes.status == 0 && yes.output.contains("removed k (1 version)"), "\(yes.output)")
        #expect(c.run("show", "k").status == 9)
    }

    @Test("a wrong passphrase at the terminal asks again, three tries like sudo, each failure audited")
    func retries() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.retry.tok")
        let prompt = "Vault passphrase: "
        let ok = onTTY(c, ["export", "k", "--format", "raw"], [(prompt, "wrong one\r"), (prompt, "wrong two\r"), (prompt, "correct horse battery\r")])
        #expect(ok.status == 0 && ok.output.contains("eyJ.retry.tok"), "\(ok.output)")
        #expect(ok.output.contains("wrong passphrase, try again (2 left)") && ok.output.contains("wrong passphrase, try again (1 left)"))
        let failures = { c.audit(action: "unlock").filter { $0["outcome"] as? String == "error" }.count }
        #expect(failures() == 2)
        let no = onTTY(c, ["export", "k", "--format", "raw"], [(prompt, "a\r"), (prompt, "b\r"), (prompt, "c\r")])
        #expect(no.status == 3 && no.output.hasSuffix("error: wrong passphrase\r\n") && !no.output.contains("eyJ"), "\(no.output)")
        #expect(no.echo == true, "the terminal was left without echo")
        #expect(failures() == 5)
    }

    @Test("a pasted value not shaped like a key (a key id) gets a warning and a question at the terminal; --force off one")
    func keyShape() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let paste = "Paste the Vision One API key (input hidden): "
        let keyID = "3f2b1c9e-7a4d-4e1b-9c2f-0d5e6a7b8c9d"
        // The question comes before the passphrase: declining costs no KDF run.
        let no = onTTY(c, ["add", "k"], [(paste, keyID + "\r"), ("Store it anyway? [y/N] ", "n\r")])
        #expect(no.status == 16 && no.output.contains("warning: this is not shaped like a Vision One API key"), "\(no.output)")
        #expect(!no.output.contains("Vault passphrase"), "\(no.output)")
        #expect(c.run("show", "k").status == 9)
        let yes = onTTY(c, ["add", "k"], [(paste, keyID + "\r"), ("Store it anyway? [y/N] ", "y\r"), ("Vault passphrase: ", "correct horse battery\r")])
        #expect(yes.status == 0 && yes.output.contains("stored k version 1"), "\(yes.output)")
        #expect(yes.output.contains("[y/N] y"), "the answer to the question is shown: \(yes.output)")
        // Off a terminal: refused (exit 13, nothing stored) unless --force.
        let piped = c.run(["add", "k2"], stdin: Data(keyID.utf8))
        #expect(piped.status == 13 && piped.stderr.hasPrefix("error: this is not shaped like a Vision One API key") && piped.stderr.contains("--force stores it anyway"), "\(piped)")
        #expect(c.run("show", "k2").status == 9)
        for value in ["https://api.xdr.trendmicro.com", "\"eyJa.b.c\"", "eyJa.b", "eyJa..c", "abc.def.ghi"] {
            #expect(c.run(["rotate", "k"], stdin: Data(value.utf8)).status == 13, "\(value)")
        }
        #expect(c.run(["add", "k2", "--force"], stdin: Data(keyID.utf8)).status == 0)
        #expect(c.run(["rotate", "k"], stdin: Data("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_x".utf8)).status == 0)
    }

    @Test("export --format raw ends with a newline on a terminal (and not into a pipe)")
    func rawOnTerminal() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.raw.tty")
        let r = onTTYCommand(c, ["/usr/bin/env", "V1VAULT_PASSPHRASE_FILE=" + c.passphraseFile, CLI.binary, "export", "k", "--format", "raw"], [])
        #expect(r.status == 0 && r.output == "eyJ.raw.tty\r\n", "\(r.output)")
        #expect(c.run("export", "k", "--format", "raw").out == "eyJ.raw.tty")
    }

    @Test("vault unlock asks once at the terminal; the next command in the session asks nothing")
    func unlockOnTTY() throws {
        let ring = try TestKeyring()
        defer { ring.close() }
        var c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.once.tok")
        let r = onTTYCommand(c, ring.prefix + [CLI.binary, "unlock", "--for", "1m"], [("Vault passphrase: ", "correct horse battery\r")])
        #expect(r.status == 0 && r.output.contains("unlocked ") && !r.output.contains("correct horse"), "\(r.output)")
        c.prefix = ring.prefix
        let e = onTTYCommand(c, ring.prefix + [CLI.binary, "export", "k", "--format", "raw"], [])
        #expect(e.status == 0 && e.output.contains("eyJ.once.tok") && !e.output.contains("passphrase"), "\(e.output)")
        // add asks for the key only.
        let a = onTTYCommand(c, ring.prefix + [CLI.binary, "add", "k2"], [("Paste the Vision One API key (input hidden): ", "eyJ.second.tok\r")])
        #expect(a.status == 0 && a.output.contains("stored k2 version 1") && !a.output.contains("passphrase") && !a.output.contains("second"), "\(a.output)")
    }
}

@Suite("prompts on a real terminal: two processes, signals (pty)")
struct TerminalSharingTests {
    @Test("14: two vault processes prompting on one terminal take turns; echo is on again afterwards")
    func twoPrompts() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "eyJ.piped-token.sig")
        let script = "\"$0\" export a --format raw | \"$0\" add b; echo \"rc=$?\"; stty -a"
        let r = TerminalTests().onTTYCommand(c, ["/bin/sh", "-c", script, CLI.binary],
                                             [("Vault passphrase: ", "correct horse battery\r"), ("Vault passphrase: ", "correct horse battery\r")])
        #expect(r.status == 0 && r.output.contains("rc=0") && r.output.contains("stored b version 1"), "\(r.output)")
        #expect(!r.output.contains("correct horse"), "a passphrase was echoed: \(r.output)")
        let flags = r.output.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == ";" })
        #expect(flags.contains("echo") && !flags.contains("-echo") && flags.contains("icanon"), "\(r.output)")
        #expect(c.run("export", "b", "--format", "raw").out == "eyJ.piped-token.sig")
    }

    @Test("a signal while the KDF runs between prompts (echo held off) restores the terminal")
    func signalDuringKDF() throws {
        let c = try TerminalTests.slowKDFVault()
        defer { c.cleanup() }
        // The passphrase prompt's line ends: Argon2id is running, echo still held off.
        let r = TerminalTests().onTTY(c, ["add", "k"], [("Paste the Vision One API key (input hidden): ", "eyJ.k.sig\r"),
                                                         ("Vault passphrase: ", "correct horse battery\r"), ("\n", "<SIGTERM>")])
        #expect(r.status == -15, "\(r.output)")
        #expect(r.echo == true, "the terminal was left without echo")
        #expect(c.run("show", "k").status == 9)
    }

    @Test("Ctrl-Z while the KDF runs, then fg: echo is off again, so a key pasted then is not shown")
    func stopDuringKDF() throws {
        let c = try TerminalTests.slowKDFVault()
        defer { c.cleanup() }
        let key = "eyJhbGciOiJSUzI1NiJ9.eyJzdG9wcGVkIjoiZHVyaW5nLWtkZiJ9.U3RvcHBlZF9EdXJpbmdfS0RG-sig"
        // The passphrase prompt's line ends: Argon2id runs. Ctrl-Z stops it; the driver, as bash
        // does, turns echo on while it is stopped and continues it (`fg`), then pastes the key.
        let r = TerminalTests().onTTY(c, ["add", "k"], [("Paste the Vision One API key (input hidden): ", key + "\r"),
                                                         ("Vault passphrase: ", "correct horse battery\r"), ("\n", "<CTRL-Z>"),
                                                         ("", "<SIGCONT>"), ("", key + "\r")])
        #expect(r.status == 0 && r.output.contains("stored k version 1"), "\(r.output)")
        let bytes = Array(key.utf8)
        let pieces = (0...(bytes.count - 6)).map { String(decoding: bytes[$0..<($0 + 6)], as: UTF8.self) }
        #expect(pieces.count == bytes.count - 5 && pieces.filter { r.output.contains($0) }.isEmpty, "the key was echoed: \(r.output)")
        #expect(r.echo == true, "the terminal was left without echo")
    }

    @Test("a signal while a key is half pasted: the shell that runs next never reads the pasted bytes")
    func signalDiscardsTypeAhead() throws {
        let c = try TerminalTests.slowKDFVault()
        defer { c.cleanup() }
        // sh ignores SIGTERM (and vault installs its own handler), so the signal to the job ends
        // vault only; sh then reads the next line from the same terminal.
        let script = #"trap '' TERM; "$1" add k; echo AFTER; read -r line; echo "GOT:$line""#
        let r = TerminalTests().onTTYCommand(c, ["/bin/sh", "-c", script, "sh", CLI.binary],
                                             [("Paste the Vision One API key (input hidden): ", "eyJhalf.pasted"), ("", "<SIGTERM-GROUP>"),
                                              ("AFTER", "typed-later\r")])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("GOT:typed-later") && !r.output.contains("eyJhalf"), "\(r.output)")
        #expect(c.run("show", "k").status == 9)
    }

    @Test("any catchable fatal signal at a prompt restores the terminal: SIGUSR1")
    func otherFatalSignal() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "eyJ.a")
        let r = TerminalTests().onTTY(c, ["show", "a", "--reveal"], [("Vault passphrase: ", "<SIGUSR1>")])
        #expect(r.status == -10, "\(r.output)")
        #expect(r.echo == true, "the terminal was left without echo")
    }

    @Test("15: a signal at the passphrase prompt restores the terminal and leaves no -o file")
    func signalAtPrompt() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("a", "eyJ.a")
        let out = c.dir + "/out.env"
        let r = TerminalTests().onTTY(c, ["export", "a", "-o", out], [("Vault passphrase: ", "<SIGTERM>")])
        #expect(r.status == -15, "\(r.output)")
        #expect(r.echo == true, "the terminal was left without echo")
        #expect(!FileManager.default.fileExists(atPath: out))
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: c.dir))?.filter { $0.contains("v1vault-") } ?? []
        #expect(leftovers.isEmpty, "\(leftovers)")
    }
}
