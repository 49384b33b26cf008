import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct ManagerUnset: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(commandName: "unset", abstract: "Stop using NAME as a manager key.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The manager key.", valueName: "name"), completion: Completions.tokenNames) var name: String
    @Flag(help: "One JSON object, as `manager set` prints it: manager (null now), base_url, replaced (NAME).") var json = false

    func validate() throws { try InputCheck.tokenNames([name]) }

    func run() throws {
        let vault = try global.openVault()
        try vault.store.requireTokens([name])
        let baseURL = try vault.show(name, audited: false).metadata.baseURL
        try global.unlock(vault).unsetManager(name)
        if json { return Output.result([("manager", .null), ("base_url", .string(baseURL)), ("replaced", .string(name))]) }
        Output.done("\(name) is no longer a manager key")
    }
}
