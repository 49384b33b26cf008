import ArgumentParser
import CBuildInfo
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

/// Entry point: hardens the process, parses, runs, and maps every VaultError to its
/// documented exit code in one place.
@main
enum Main {
    static func main() {
        ProcessHardening.apply()
        Descriptors.reserveStandard()
        PassphraseSource.recordInheritedDescriptors()
        // `vault --version` alone: ArgumentParser's answer without building the parser. Its
        // first parse costs more than everything else at start (the runtime's protocol-
        // conformance lookups, docs/PERFORMANCE.md "Start-up"); the text and the exit status
        // are the ones the parser gives for the same request (VersionCLITests).
        if arguments.count == 2, arguments[1] == "--version" {
            Output.stdout(Output.spelled(VaultCommand.configuration.version) + "\n")
            exit(0)
        }
        var parsed: (any ParsableCommand)?
        do {
            var command = try VaultCommand.parseAsRoot(Array(arguments.dropFirst()))
            parsed = command
            Output.quiet = (command as? any UsesGlobalOptions)?.global.quiet ?? false
            (command as? Export)?.failClosedOnSignal()
            try command.run()
        } catch let error as VaultError {
            Output.fail(error, suggestion: suggestion(for: error, in: parsed))
            Export.failClosed(evaluatedByShell: (parsed as? Export)?.outputOptions.evaluatedByShell ?? false)
            exit(error.exitCode)
        } catch {
            let code = VaultCommand.exitCode(for: error)
            if error is ExitCode { VaultCommand.exit(withError: error) }
            // Help, --version, the completion scripts and the help dump generate-manual reads:
            // ArgumentParser's text, with each "`vault " spelled as the user invoked the program.
            if code == .success {
                Output.stdout(Output.spelled(VaultCommand.fullMessage(for: error)) + "\n")
                exit(0)
            }
            // A refused command line (parsed is nil), or a ValidationError thrown by run().
            let refused = parsed == nil ? RefusedCommandLine(Array(arguments.dropFirst())) : nil
            // `vault exec` follows GNU env: its own failures, usage errors included, exit 125.
            let exec = parsed is ExecCommand || refused?.subcommand == ExecCommand.configuration.commandName
            let evaluated = (parsed as? Export)?.outputOptions.evaluatedByShell ?? refused?.exportsToShell ?? false
            // A VaultError a `validate()` found (a bad token name): printed as in `run()`.
            if let failure = InputCheck.failure {
                Output.fail(failure)
                Export.failClosed(evaluatedByShell: evaluated)
                exit(exec ? ExitStatus.execVaultFailure : failure.exitCode)
            }
            // Everything else in one style with v1vault's own errors: "error: …", lowercase.
            var text = lowercasedPrefix(VaultCommand.fullMessage(for: error))
            if let typo = refused?.subcommand, !subcommandNames.contains(typo), typo != "help",
               let guess = Suggest.closest(to: typo, in: subcommandNames) {
                text += "\nhint: did you mean `\(Output.program) \(guess)`?"
            }
            Output.stderr(text + "\n")
            Export.failClosed(evaluatedByShell: evaluated)
            exit(exec ? ExitStatus.execVaultFailure : code.rawValue)
        }
    }

    /// The Swift runtime captures argv in a constructor; under an LD_PRELOAD library that runs
    /// first (libfaketime, which the year simulation of the renewal timer uses) it is empty.
    /// The kernel's copy in /proc/self/cmdline is the same argv.
    static let arguments: [String] = {
        guard CommandLine.arguments.isEmpty, let data = FileManager.default.contents(atPath: "/proc/self/cmdline"), !data.isEmpty else {
            return CommandLine.arguments
        }
        var parts = data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if data.last == 0 { parts.removeLast() }
        return parts
    }()

    /// ArgumentParser's "Error: Unexpected argument …" as "error: unexpected argument …".
    static func lowercasedPrefix(_ message: String) -> String {
        guard message.hasPrefix("Error: ") else { return message }
        let rest = message.dropFirst("Error: ".count)
        return "error: " + rest.prefix(1).lowercased() + rest.dropFirst()
    }

    static var subcommandNames: [String] {
        VaultCommand.configuration.subcommands.filter { $0.configuration.shouldDisplay }.compactMap { $0.configuration.commandName }
    }

    /// For a token that is not stored: the stored name it was probably meant to be. Names are
    /// read as `list` reads them (no passphrase), from the vault the command was given.
    static func suggestion(for error: VaultError, in command: (any ParsableCommand)?) -> String? {
        guard case .tokenNotFound(let name) = error, let global = (command as? any UsesGlobalOptions)?.global else { return nil }
        return Suggest.closest(to: name, in: VaultStore.acceptedTokenNames(at: global.resolvedPath))
    }
}

struct VaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: Output.program,
        abstract: "A local, encrypted vault for Trend Vision One API keys.",
        discussion: """
            Store a key right after the console shows it (`vault add`), rotate it before it \
            expires (`vault rotate`), and hand it to pipelines (`vault export`, `vault exec`). \
            Exit codes and environment variables are listed in the README.
            """,
        version: "\(String(cString: v1v_version())) (commit \(String(cString: v1v_commit())))",
        subcommands: [
            Init.self, Add.self, List.self, Show.self, Get.self, Copy.self, Rotate.self, History.self, Rollback.self,
            Expiring.self, Export.self, ExecCommand.self, Remove.self, Passwd.self, Rekey.self, Audit.self,
            DoctorCommand.self, Backup.self, Restore.self, Import.self, KDFCommand.self, Check.self, Edit.self, Rename.self, Unlock.self, Lock.self, Status.self,
            Manager.self, Renew.self, Sync.self, ClearClipboard.self, Identity.self, Recipient.self, Share.self, Receive.self,
        ]
    )

    @OptionGroup var global: GlobalOptions
}
