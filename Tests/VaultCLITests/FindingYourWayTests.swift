import Foundation
import Testing

@Suite("finding your way: did you mean, one error style, completion of names and regions (out of process)")
struct FindingYourWayTests {
    @Test("`vault --version` alone prints what the parser prints for the same request (`--quiet --version`), exit 0")
    func version() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let alone = c.run("--version")
        let parsed = c.run("--quiet", "--version")
        #expect(alone.status == 0 && parsed.status == 0, "\(alone)\n\(parsed)")
        #expect(alone.out == parsed.out, "\(alone)\n\(parsed)")
        #expect(alone.out.wholeMatch(of: /0\.\d+\.\d+ \(commit [0-9a-z-]+\)\n/) != nil, "\(alone)")
        #expect(alone.stderr == "" && parsed.stderr == "", "\(alone)\n\(parsed)")
    }

    @Test("a mistyped subcommand: one lowercase error, usage, and the likely command; exit 64")
    func subcommandTypo() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        let r = c.run("lst")
        #expect(r.status == 64, "\(r)")
        #expect(r.stderr.hasPrefix("error: unexpected argument 'lst'\n"), "\(r)")
        #expect(r.stderr.hasSuffix("hint: did you mean `vault list`?\n"), "\(r)")
        let far = c.run("frobnicate")
        #expect(far.status == 64 && !far.stderr.contains("did you mean"), "\(far)")
        // Every usage error is in the same style as v1vault's own: "error: " and lowercase.
        for args in [["unlock", "--for"], ["show"], ["list", "--bogus"], ["rotate", "k", "--keep", "x"]] {
            let u = c.run(args, stdin: nil)
            #expect(u.status == 64 && u.stderr.hasPrefix("error: ") && !u.stderr.contains("Error:"), "\(args): \(u)")
            let first = u.stderr.dropFirst("error: ".count).first
            #expect(first.map { !$0.isUppercase } == true, "\(args): \(u)")
        }
    }

    @Test("a mistyped key name: exit 9 and the stored name it was probably meant to be")
    func keyTypo() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("siem-connector", "eyJ.a.b")
        try c.add("ci-scanner", "eyJ.c.d")
        let r = c.run("export", "siem-conector")
        #expect(r.status == 9, "\(r)")
        #expect(r.stderr == "error: no token named \"siem-conector\"\nhint: did you mean siem-connector? (`vault list` shows the stored names)\n", "\(r)")
        let none = c.run("show", "zzz")
        #expect(none.status == 9 && none.stderr.hasSuffix("hint: `vault list` shows the stored names\n"), "\(none)")
        // Looking up the suggestion reads names only: no passphrase, and no audit row beyond
        // the failed command's own.
        let rows = try c.rows("SELECT count(*) FROM audit_log")
        #expect(c.run(["export", "siem-connectr"], stdin: nil, env: ["V1VAULT_PASSPHRASE_FILE": nil]).stderr.contains("did you mean siem-connector?"))
        #expect(try c.rows("SELECT count(*) FROM audit_log") == rows)
    }

    @Test("exec with a mistyped key name: exit 125 (its own failure code) and the did-you-mean; the command never runs")
    func execKeyTypo() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("siem-connector", "eyJ.a.b")
        let marker = c.dir + "/ran"
        let r = c.run("exec", "siem-conector", "--", "/usr/bin/touch", marker)
        #expect(r.status == 125, "\(r)")
        #expect(r.stderr == "error: no token named \"siem-conector\"\nhint: did you mean siem-connector? (`vault list` shows the stored names)\n", "\(r)")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("a name that differs only in case is suggested (names are case-sensitive)")
    func caseOnlyTypo() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("siem", "eyJ.a.b")
        try c.add("SIEM-X", "eyJ.c.d")
        let r = c.run("show", "SIEM")
        #expect(r.status == 9, "\(r)")
        #expect(r.stderr == "error: no token named \"SIEM\"\nhint: did you mean siem? (`vault list` shows the stored names)\n", "\(r)")
        let exec = c.run("exec", "Siem", "--", "/bin/true")
        #expect(exec.status == 125 && exec.stderr.hasSuffix("hint: did you mean siem? (`vault list` shows the stored names)\n"), "\(exec)")
    }

    @Test("bash completion offers the vault's key names (no passphrase, nothing written) and the regions")
    func completion() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("siem-connector", "eyJ.a.b")
        try c.add("sierra", "eyJ.c.d")
        try c.add("ci-scanner", "eyJ.e.f")
        let script = c.dir + "/vault.bash"
        let gen = c.run("--generate-completion-script", "bash")
        try gen.stdout.write(to: URL(fileURLWithPath: script))
        let before = try c.snapshot()
        let auditBefore = try c.rows("SELECT count(*) FROM audit_log")
        func complete(_ line: [String]) -> [String] {
            let words = line.map { "'\($0)'" }.joined(separator: " ")
            // The script runs `vault ---completion …`: the binary under test, first on PATH.
            var env = c.env
            env["PATH"] = URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().path + ":" + (env["PATH"] ?? "")
            env["V1VAULT_PASSPHRASE_FILE"] = nil
            return runProgram("/bin/bash", ["-c", """
                source "$1"; COMP_WORDS=(\(words)); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE="${COMP_WORDS[*]}"
                COMP_POINT=${#COMP_LINE}; _vault vault "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; printf '%s\\n' "${COMPREPLY[@]}"
                """, "_", script], env: env).out.split(separator: "\n").map(String.init)
        }
        #expect(Set(complete(["vault", "show", "si"])) == ["siem-connector", "sierra"])
        #expect(complete(["vault", "export", "ci"]) == ["ci-scanner"])
        #expect(complete(["vault", "add", "x", "--region", "e"]) == ["eu"])
        #expect(complete(["vault", "unl"]) == ["unlock"])
        #expect(try c.snapshot() == before)
        #expect(try c.rows("SELECT count(*) FROM audit_log") == auditBefore)
    }

    @Test("no option's help says its default twice (ArgumentParser adds \"(default: …)\" itself)")
    func defaultsOnce() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let twice = try NSRegularExpression(pattern: #"\(default [^:)][^)]*\)[^()]*\(default: "#)
        for cmd in [["init"], ["add"], ["list"], ["show"], ["get"], ["copy"], ["rotate"], ["history"], ["rollback"], ["expiring"], ["export"], ["exec"],
                    ["remove"], ["passwd"], ["rekey"], ["audit"], ["audit", "verify"], ["doctor"], ["backup"], ["import"],
                    ["kdf", "benchmark"], ["kdf", "set"], ["check"], ["edit"], ["rename"], ["unlock"], ["lock"], ["status"]] {
            let help = c.run(cmd + ["--help"], stdin: nil).out.replacingOccurrences(of: "\n", with: " ")
            #expect(!help.isEmpty)
            #expect(twice.firstMatch(in: help, range: NSRange(help.startIndex..., in: help)) == nil, "\(cmd)")
        }
    }
}
