import Foundation
import Testing

/// The command line as ArgumentParser parses it (#23): name checks in `validate()`, exec's
/// command after `--`, and the few answers a refused command line still gets.
@Suite("command line: names checked while parsing, exec's command after --, refused lines (out of process)")
struct CommandLineCLITests {
    static let badName = "error: invalid name \"../x\": must start with a letter or digit\n" +
        "hint: names are 1-64 characters: a letter or digit, then letters, digits, '.', '_' or '-'\n"

    @Test("a bad token name: the same error, hint and exit 64 from every command that takes one; nothing asked, nothing written", arguments: [
        ["add", "../x"], ["get", "../x"], ["copy", "../x"], ["show", "../x"], ["history", "../x"],
        ["edit", "../x", "--role", "r"], ["rotate", "../x"], ["rollback", "../x", "--to", "1"], ["remove", "../x", "--yes"],
        ["rename", "../x", "k2"], ["rename", "k", "../x"], ["manager", "set", "../x"], ["manager", "unset", "../x"],
        ["check", "../x"], ["check", "k", "../x"], ["renew", "../x"],
    ])
    func badTokenName(args: [String]) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "tok")
        let before = try c.snapshot()
        // Given no passphrase at all: a check that came after the unlock would fail with exit 4.
        let r = c.run(args, stdin: Data("tok".utf8), env: ["V1VAULT_PASSPHRASE_FILE": nil])
        #expect(r.status == 64, "\(r)")
        #expect(r.stderr == Self.badName, "\(r)")
        #expect(r.out.isEmpty, "\(r)")
        #expect(try c.snapshot() == before)
    }

    @Test("--help wins over a bad name on the same command line")
    func helpBeatsBadName() throws {
        let c = try CLI()
        defer { c.cleanup() }
        let r = c.run("get", "../x", "--help")
        #expect(r.status == 0, "\(r)")
        #expect(r.out.hasPrefix("OVERVIEW: Print a key's token"), "\(r)")
        #expect(r.stderr.isEmpty, "\(r)")
    }

    @Test("exec: every word after the first -- is the command's, options and further -- included; before it, tokens and options in any order")
    func execCommandAfterTerminator() throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "tok")
        let r = c.run("exec", "--names", "terraform", "k", "--", "/bin/sh", "-c", "printf '%s|' \"$VISIONONE_API_KEY\" \"$@\"", "sh",
                      "--vault", "/nonexistent", "--", "-q", "k")
        #expect(r.status == 0, "\(r)")
        #expect(r.out == "tok|--vault|/nonexistent|--|-q|k|", "\(r)")
    }

    @Test("exec without a command: exit 64, the form that works, nothing revealed", arguments: [
        (["exec", "k"], "error: no command given: the command goes after --\nhint: vault exec NAME… -- COMMAND [ARGS…]\n"),
        (["exec", "k", "--"], "error: no command given after --\nhint: vault exec NAME… -- COMMAND [ARGS…]\n"),
        (["exec", "k", "env", "--"], "error: no command given after --\nhint: put -- before the command: `vault exec k -- env`\n"),
    ])
    func execWithoutCommand(args: [String], stderr: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "tok")
        let before = try c.snapshot()
        let r = c.run(args, stdin: nil)
        #expect(r.status == 64, "\(r)")
        #expect(r.stderr == stderr, "\(r)")
        #expect(r.out.isEmpty, "\(r)")
        #expect(try c.snapshot() == before)
    }

    @Test("a refused command line still gets export's false, exec's 125 and the did-you-mean, whatever global options come first", arguments: [
        // (arguments, exit status, stdout): a global option's value may be any word, a command name included.
        (["--vault", "exec", "export", "k", "--bogus"], Int32(64), "false\n"),
        (["--passphrase-fd", "x", "export", "k", "--bogus"], 64, "false\n"),
        (["--vault=exec", "-q", "export", "--fromat", "json", "k"], 64, "false\n"),
        (["export", "k", "--format"], 64, "false\n"),
        (["export", "k", "--format", "dotenv", "--bogus"], 64, "false\n"),
        (["export", "k", "--format", "json", "--bogus"], 64, ""),
        (["export", "k", "--format=raw", "--bogus"], 64, ""),
        (["export", "k", "-o", "out.env", "--bogus"], 64, ""),
        (["--vault", "export", "exec", "k", "--bogus", "--", "true"], 125, ""),
        (["--vault", "export", "list", "--bogus"], 64, ""),
    ])
    func refusedLines(args: [String], status: Int32, stdout: String) throws {
        let c = try CLI()
        defer { c.cleanup() }
        let r = c.run(args, stdin: nil)
        #expect(r.status == status, "\(r)")
        #expect(r.out == stdout, "\(r)")
        #expect(r.stderr.hasPrefix("error: "), "\(r)")
    }

    @Test("a mistyped subcommand after a global option and its value still gets the did-you-mean")
    func typoAfterGlobalOption() throws {
        let c = try CLI()
        defer { c.cleanup() }
        for args in [["--vault", "list", "lst"], ["--passphrase-fd", "3", "-q", "lst"]] {
            let r = c.run(args, stdin: nil)
            #expect(r.status == 64, "\(args): \(r)")
            #expect(r.stderr.hasSuffix("hint: did you mean `vault list`?\n"), "\(args): \(r)")
        }
    }

    @Test("hints that name a command or flag come from the CLI, byte for byte as before", arguments: [
        // (setup, arguments, exit status, stderr)
        ("", ["init"], Int32(6), "error: a vault already exists at <vault>\nhint: choose another path with --vault, or remove the old vault yourself if you really mean to\n"),
        ("", ["get", "k", "--version", "9"], 9, "error: token k has no version 9\nhint: `vault history k` shows the kept versions\n"),
        ("", ["show", "nosuch"], 9, "error: no token named \"nosuch\"\nhint: `vault list` shows the stored names\n"),
        ("", ["sync"], 28, "error: no manager key for any base URL\nhint: mark a stored key that has the API Keys permission: `vault manager set NAME`\n"),
        ("CREATE VIEW planted AS SELECT 1", ["list"], 7, "hint: the file was changed outside v1vault; `vault doctor --no-unlock` lists the differences; restore from a backup\n"),
        ("", ["add", "k"], 12, "error: a token named k already exists\nhint: choose another name, or `vault rotate k` to store a new version of that token\n"),
        ("", ["add", "x"], 13, "hint: check what was copied (not the key's id, a URL or a quoted string); --force stores it anyway\n"),
        ("", ["copy", "k", "--via", "xclip"], 29, "hint: leave out --via to use whatever works here, or `vault get NAME` to print the key\n"),
        ("missing", ["list"], 5, "error: no vault at <vault>\nhint: create one with `vault init`, or point --vault / V1VAULT_PATH at an existing vault\n"),
    ])
    func hintsFromTheCLI(setup: String, args: [String], status: Int32, stderr: String) throws {
        let c = try CLI.initialized()
        defer { c.cleanup() }
        try c.add("k", "tok")
        if setup == "missing" { try FileManager.default.removeItem(atPath: c.vaultPath) } else if !setup.isEmpty { try c.sql(setup) }
        // Stdin is not a key (`add x`) and no terminal: the paste is refused without --force.
        let r = c.run(args, stdin: Data("notakey".utf8), env: ["DISPLAY": nil, "WAYLAND_DISPLAY": nil])
        let expected = stderr.replacingOccurrences(of: "<vault>", with: c.vaultPath)
        #expect(r.status == status, "\(r)")
        #expect(expected.hasPrefix("error: ") ? r.stderr == expected : r.stderr.hasSuffix(expected), "\(r)")
    }
}
