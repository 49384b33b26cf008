import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct RecipientRemove: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a recipient: no more drops to it, none accepted from it.",
        discussion: "What it already received stays valid: renew (or rotate) those keys to revoke its access.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The recipient.", valueName: "name")) var name: String
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws { try InputCheck.tokenNames([name]) }

    func run() throws {
        let vault = try global.openVault()
        let unlocked = try global.unlock(vault)
        let follows = try unlocked.recipients().first { $0.name == name }?.follows ?? []
        try unlocked.removeRecipient(name)
        if json { return Output.result([("removed", .string(name)), ("followed", .array(follows.map { .string($0) }))]) }
        Output.done("removed recipient \(name)")
        if !follows.isEmpty {
            Output.hint("it still holds what it received (\(follows.joined(separator: ", "))); renew those keys to revoke its access: " +
                        Shell.command(["vault", "renew"] + follows))
        }
    }
}
