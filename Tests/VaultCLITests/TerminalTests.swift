import Foundation
import Testing

@Suite("prompts on a real terminal (pty)")
struct TerminalTests {
    static let driver = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/pty-drive.py").path

    /// Runs `vault ARGS` on a pty, answering `steps`; no passphrase file in the environment.
    func onTTY(_ c: CLI, _ args: [String], _ steps: [(String, String)]) -> (status: Int, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var env = c.env
        env["V1VAULT_PASSPHRASE_FILE"] = nil
        p.environment = env
        let stepsJSON = String(decoding: try! JSONSerialization.data(withJSONObject: steps.map { [$0.0, $0.1] }), as: UTF8.self)
        p.arguments = ["python3", Self.driver, stepsJSON, CLI.binary] + args
        let out = Pipe()
        p.standardOutput = out
        try! p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let obj = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        return (obj["status"] as? Int ?? -999, obj["output"] as? String ?? String(decoding: data, as: UTF8.self))
    }

    @Test("init asks twice with echo off; the passphrase never appears on screen")
    func initTwice() {
        let c = CLI()
        defer { c.cleanup() }
        let r = onTTY(c, ["init", "--kdf-memory", "8M", "--kdf-ops", "1"],
                      [("New vault passphrase: ", "tty-secret-pw\r"), ("Repeat passphrase: ", "tty-secret-pw\r")])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("created vault") && !r.output.contains("tty-secret-pw"))
        // The same passphrase from a file opens it.
        let file = c.dir + "/pw2"
        precondition(FileManager.default.createFile(atPath: file, contents: Data("tty-secret-pw\n".utf8), attributes: [.posixPermissions: 0o600]), "test setup: cannot create a file")
        #expect(c.run("audit", "head", env: ["V1VAULT_PASSPHRASE_FILE": file]).status == 0)
    }

    @Test("mismatched confirmation fails with exit 4 and creates nothing")
    func mismatch() {
        let c = CLI()
        defer { c.cleanup() }
        let r = onTTY(c, ["init", "--kdf-memory", "8M", "--kdf-ops", "1"],
                      [("New vault passphrase: ", "one\r"), ("Repeat passphrase: ", "two\r")])
        #expect(r.status == 4 && r.output.contains("error: the passphrases do not match"), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: c.vaultPath))
    }

    @Test("Ctrl-C and Ctrl-D at a prompt cancel with exit 16", arguments: [("\u{03}", "interrupted"), ("\u{04}", "end of input")])
    func cancel(key: String, words: String) {
        let c = CLI()
        defer { c.cleanup() }
        let r = onTTY(c, ["init", "--kdf-memory", "8M", "--kdf-ops", "1"], [("New vault passphrase: ", key)])
        #expect(r.status == 16 && r.output.contains("error: cancelled: \(words) at the passphrase prompt"), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: c.vaultPath))
    }

    @Test("add reads the token from a hidden prompt; backspace edits it")
    func addOnTTY() {
        let c = CLI.initialized()
        defer { c.cleanup() }
        let r = onTTY(c, ["add", "k"], [("Vault passphrase: ", "correct horse battery\r"),
                                         ("Paste the Vision One API key (input hidden): ", "eyJ.hiddenX\u{7f}-tok\r")])
        #expect(r.status == 0 && r.output.contains("stored k version 1"), "\(r.output)")
        #expect(!r.output.contains("eyJ"))
        #expect(c.run("show", "k", "--reveal").out.hasSuffix("token            eyJ.hidden-tok\n"))
    }

    @Test("remove asks for confirmation on a terminal")
    func removeConfirm() {
        let c = CLI.initialized()
        defer { c.cleanup() }
        c.add("k", "tok")
        let no = onTTY(c, ["remove", "k"], [("[y/N] ", "n\r")])
        #expect(no.status == 16, "\(no.output)")
        #expect(c.run("show", "k").status == 0)
        let yes = onTTY(c, ["remove", "k"], [("[y/N] ", "y\r"), ("Vault passphrase: ", "correct horse battery\r")])
        #expect(yes.status == 0 && yes.output.contains("removed k (1 version)"), "\(yes.output)")
        #expect(c.run("show", "k").status == 9)
    }
}
