import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct ExecCommand: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command with tokens in its environment (audited).",
        discussion: """
            Replaces itself with COMMAND (PATH lookup, no shell; arguments passed untouched). \
            V1VAULT_PASSPHRASE* variables are removed, and COMMAND starts in a session keyring \
            of its own, so it cannot use this login's `vault unlock` (--keep-session lets it; an \
            `unlock --scope user` session, or one in the default user-session keyring where the login has \
            no session keyring, it can use regardless). Exit status is the command's; the \
            vault's own failures exit 125, a command that cannot run 126, one not found 127.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var naming: NamingOptions
    @Flag(help: "Give the command only PATH, HOME, LANG and the token variables.") var pristine = false
    @Flag(name: .customLong("keep-session"), help: "Leave the command in this login's session keyring: it (and every vault command it runs) can use an unlocked session of any vault.")
    var keepSession = false
    @Argument(help: ArgumentHelp("NAME… -- COMMAND [ARGS…]", valueName: "name"), completion: Completions.tokenNames)
    var positionals: [String] = []

    /// Everything after the first `--` on the command line, untouched (`Argv.afterTerminator`).
    var command: [String] { Argv.afterTerminator(Main.arguments) ?? [] }

    var tokens: [String] { Array(positionals.dropLast(command.count)) }

    var argvHasDashDash: Bool { Argv.afterTerminator(Main.arguments) != nil }

    func run() throws {
        // A forgotten `--` (`vault exec siem env`) is a usage error (exit 64), not a vault
        // failure: nothing was tried, and the hint shows the form that works.
        guard !command.isEmpty else {
            let hint = positionals.count >= 2
                ? "put -- before the command: " + Shell.command([Output.program, "exec", positionals[0], "--"] + positionals.dropFirst())
                : "\(Output.program) exec NAME… -- COMMAND [ARGS…]"
            Output.fail(.invalidInput(reason: argvHasDashDash ? "no command given after --" : "no command given: the command goes after --", hint: hint))
            throw ExitCode(VaultError.invalidInput(reason: "", hint: nil).exitCode)
        }
        do {
            try naming.check(tokens)
            let executable = try Exec.resolve(command[0], path: global.environment["PATH"])
            let vault = try global.openVault()
            try vault.store.requireTokens(tokens)
            let unlocked = try global.unlock(vault)
            if !keepSession, unlocked.session?.keyring == .user {
                Output.note("note: this vault's session is in your user keyring (`vault unlock --scope user`): \(command[0]) can use it too, as every process of yours can")
            } else if !keepSession, unlocked.session?.keyring == .userSession {
                // No login-session keyring here: the session is in the uid's default one, which
                // any process of the uid may join by name — a new session keyring cannot hide it.
                Output.note("note: this vault's session is in uid \(getuid())'s default user-session keyring (there is no login-session keyring here): \(command[0]) can use it too, by joining that keyring (`keyctl session _uid_ses.\(getuid())`)")
            }
            var vars: [ExportVariable] = []
            var details = ["program": executable, "pristine": "\(pristine)", "names": naming.names.rawValue]
            if keepSession { details["keep_session"] = "true" }
            let revealed = try unlocked.revealMany(tokens.map { ($0, nil) }, allowExpired: naming.allowExpired, action: "exec",
                                                   details: details) { toks throws(VaultError) in
                vars = try Exporter.variables(toks, naming: naming.naming)
            }
            for r in revealed { if let w = r.warning { Output.warn(w) } }
            vault.store.close()
            fflush(nil)
            do {
                try Exec.run(executable: executable, arguments: command, exported: vars, pristine: pristine, keepSession: keepSession)
            } catch {
                try? Vault.open(at: vault.path).recordUnsealed(action: "exec", subjects: tokens.map { AuditSubject(name: $0) },
                                                               details: ["program": executable], error: error)
                throw error
            }
        } catch let error as VaultError {
            Output.fail(error, suggestion: Main.suggestion(for: error, in: self))
            switch error {
            case .commandNotFound, .commandNotExecutable: throw ExitCode(error.exitCode)
            default: throw ExitCode(ExitStatus.execVaultFailure)
            }
        }
    }
}
