import ArgumentParser
import Foundation
import VaultCore

struct Backup: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent copy of the vault (same passphrase) to a new 0600 file.",
        discussion: "Uses SQLite's online backup API, so it is safe while other vault processes write.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The new file; must not exist.", valueName: "path")) var destination: String
    @Flag(help: "One JSON object: vault, backup (the new file).") var json = false

    func run() throws {
        let vault = try global.openVault()
        try vault.backup(to: destination)
        if json { return Output.result([("vault", .string(vault.path)), ("backup", .string(destination))]) }
        Output.done("backed up \(vault.path) to \(destination)")
    }
}
