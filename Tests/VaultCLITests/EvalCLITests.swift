import Foundation
import Testing
import TestSupport

/// `eval "$(vault export …)"` is the idiom people copy whatever README says. When `export`
/// fails, what it printed must stop a `set -eu` script (it prints `false`), in every shell a
/// script is likely to run under.
@Suite("eval \"$(vault export …)\" fails closed under set -eu (out of process)")
struct EvalCLITests {
    static let shells: [String] = ["/bin/sh", "/bin/bash", "/usr/bin/zsh"]
    static let hasZsh = FileManager.default.isExecutableFile(atPath: "/usr/bin/zsh")

    /// Runs `script` under `shell -eu` with $VAULT the binary; stdout and status.
    func script(_ shell: String, _ script: String, _ c: CLI) -> (status: Int32, out: String) {
        var env = c.env
        env["VAULT"] = CLI.binary
        return runProgram(shell, ["-eu", "-c", script], env: env)
    }

    static let failures: [(String, String)] = [
        ("a name that is not stored", #"eval "$("$VAULT" export nosuch)""#),
        ("a usage error", #"eval "$("$VAULT" export --fromat env k)""#),
        ("a wrong passphrase", #"eval "$(V1VAULT_PASSPHRASE_FILE=/nonexistent "$VAULT" export k)""#),
        ("dotenv, a name that is not stored", #"eval "$("$VAULT" export --format dotenv nosuch)""#),
        ("a variable name that is not one", #"eval "$("$VAULT" export --token-var 1-bad k)""#),
    ]

    @Test("a failed export stops the script: exit 1, the next line never runs", arguments: shells)
    func stops(shell: String) throws {
        try #require(shell != "/usr/bin/zsh" || Self.hasZsh, "zsh is not installed (scripts/bootstrap installs it)")
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.k.k")
        var stopped = 0
        for (what, line) in Self.failures {
            let r = script(shell, line + "\necho CONTINUED\n", c)
            #expect(r.status == 1 && r.out.isEmpty, "\(shell), \(what): \(r)")
            if r.status == 1 && r.out.isEmpty { stopped += 1 }
        }
        #expect(stopped == Self.failures.count)
        // The same idiom, succeeding: the variables are set and the script goes on.
        let ok = script(shell, #"eval "$("$VAULT" export k)"; echo "got $TMV1_TOKEN""#, c)
        #expect(ok.status == 0 && ok.out == "got eyJ.k.k\n", "\(shell): \(ok)")
    }

    @Test("export killed by a signal before it printed (timeout, kill) still prints false: the script stops", arguments: shells)
    func signalled(shell: String) throws {
        try #require(shell != "/usr/bin/zsh" || Self.hasZsh, "zsh is not installed (scripts/bootstrap installs it)")
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "eyJ.k.k")
        // A passphrase FIFO no one writes to: export waits in open() until timeout's SIGTERM.
        let fifo = c.dir + "/fifo"
        guard mkfifo(fifo, 0o600) == 0 else { throw TestSetupError(description: "mkfifo: \(String(cString: strerror(errno)))") }
        var env = c.env
        env["VAULT"] = CLI.binary
        for sig in ["TERM", "HUP", "INT"] {
            // -k: a regression that ignores the signal is killed, not left hanging.
            let line = #"eval "$(V1VAULT_NO_SESSION=1 V1VAULT_PASSPHRASE_FILE=\#(fifo) timeout -k 10 -s \#(sig) 1 "$VAULT" export k)""#
            // The test runner's threads block signals and children inherit the mask: the shell
            // gets the ordinary one, as a login's would.
            let r = runProgram("/usr/bin/python3", ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                                                    shell, "-eu", "-c", line + "\necho CONTINUED\n"], env: env)
            #expect(r.status == 1 && r.out.isEmpty, "\(shell), SIG\(sig): \(r)")
        }
    }

    @Test("only what a shell evaluates gets the line: not json, raw, github, -o, nor a terminal-less json failure")
    func onlyEvalable() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        #expect(c.run("export", "nosuch").out == "false\n")
        #expect(c.run("export", "--format=dotenv", "nosuch").out == "false\n")
        #expect(c.run("export", "--format", "json", "nosuch").out == "")
        #expect(c.run("export", "--format", "raw", "nosuch").out == "")
        #expect(c.run("export", "nosuch", "-o", c.dir + "/out.env").out == "")
        #expect(c.run("export", "nosuch", "--output=" + c.dir + "/out.env").out == "")
        // Other commands never print it.
        #expect(c.run("show", "nosuch").out == "")
        let r = c.run("export", "nosuch")
        #expect(r.status == 9 && r.stderr.hasPrefix("error: no token named \"nosuch\"\n"), "\(r)")
    }
}
