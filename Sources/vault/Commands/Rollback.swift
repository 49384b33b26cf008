import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct Rollback: ParsableCommand, UsesGlobalOptions, NamesOneToken {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make an older version's secret current again, as a new version.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var token: TokenNameArgument
    @Option(help: ArgumentHelp("The version to restore.", valueName: "n")) var to: Int
    @Option(help: ArgumentHelp("Keep the newest N versions.", valueName: "n")) var keep: Int = 10
    @Flag(name: .customLong("allow-expired"), help: "Restore even if that version has expired.") var allowExpired = false
    @Flag(help: "Print the result as one JSON object: name, current, previous, pruned.") var json = false

    func run() throws {
        try UnlockedVault.checkKeep(keep)  // before the passphrase is asked for
        let vault = try global.openVault()
        try vault.store.requireTokens([name])
        let unlocked = try global.unlock(vault)
        let result = try unlocked.rollback(name, to: to, keep: keep, allowExpired: allowExpired)
        if json { RotationReport.json(name: name, result, exportedFiles: nil) } else { RotationReport.print(name: name, result, verb: "rolled back", source: to) }
        let key = result.current.consoleName.map { "its console key \($0)" } ?? "its key"
        Output.warn("version \(to) was replaced by a rotation: if \(key) was deleted or disabled in the Vision One console since (as rotate and renew do), it no longer works; \(Shell.command("vault", "check", name)) tells")
    }
}
