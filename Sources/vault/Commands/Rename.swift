import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct Rename: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "rename",
        abstract: "Give a key a new name; its versions, secrets and history stay.",
        discussion: "Refuses a name that is in use. Audited; the metadata and version-state MACs are sealed again.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The key's name.", valueName: "old"), completion: Completions.tokenNames) var old: String
    @Argument(help: ArgumentHelp("Its new name.", valueName: "new")) var new: String
    @Flag(help: "Print the renamed key as `show --json` does.") var json = false

    func validate() throws { try InputCheck.tokenNames([old, new]) }

    func run() throws {
        let vault = try global.openVault()
        try vault.store.requireTokens([old])
        if try vault.store.tokenExists(new) { throw VaultError.tokenExists(name: new) }
        let unlocked = try global.unlock(vault)
        try unlocked.rename(old, to: new)
        if json { return try TokenView.printJSON(new, in: vault) }
        Output.done("renamed \(old) to \(new)")
    }
}
