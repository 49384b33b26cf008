import ArgumentParser
import CBuildInfo
import Foundation
import VaultCore

/// Entry point: hardens the process, parses, runs, and maps every VaultError to its
/// documented exit code in one place.
@main
enum Main {
    static func main() {
        ProcessHardening.apply()
        Descriptors.reserveStandard()
        PassphraseSource.recordInheritedDescriptors()
        do {
            var command = try VaultCommand.parseAsRoot()
            try command.run()
        } catch let error as VaultError {
            Output.fail(error)
            exit(error.exitCode)
        } catch {
            // `vault exec` follows GNU env: its own failures, usage errors included, exit 125.
            let code = VaultCommand.exitCode(for: error)
            if subcommand(of: CommandLine.arguments) == "exec", code != .success, !(error is ExitCode) {
                Output.stderr(VaultCommand.fullMessage(for: error) + "\n")
                exit(ExecCommand.vaultFailure)
            }
            VaultCommand.exit(withError: error)
        }
    }

    /// The subcommand name, skipping global options and their values.
    static func subcommand(of args: [String]) -> String? {
        var i = 1
        while i < args.count {
            let a = args[i]
            if ["--vault", "--passphrase-file", "--passphrase-fd"].contains(a) { i += 2; continue }
            if a.hasPrefix("-") { i += 1; continue }
            return a
        }
        return nil
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
            Init.self, Add.self, List.self, Show.self, Rotate.self, History.self, Rollback.self,
            Expiring.self, Export.self, ExecCommand.self, Remove.self, Passwd.self, Rekey.self, Audit.self,
            DoctorCommand.self, Backup.self, Import.self, KDFCommand.self, Check.self, Unlock.self, Lock.self, Status.self,
        ]
    )

    @OptionGroup var global: GlobalOptions
}
