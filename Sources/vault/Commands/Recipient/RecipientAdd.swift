import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct RecipientAdd: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add another vault by its age recipient (and signing key).",
        discussion: "Audited. --trust needs --signing-key: drops are accepted only when signed by a trusted recipient's key.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("A name for it (like a token name).", valueName: "name")) var name: String
    @Argument(help: ArgumentHelp("Its age recipient, as `vault identity` prints it there.", valueName: "age1…")) var recipient: String
    @Option(name: .customLong("signing-key"), help: ArgumentHelp("Its signing key, as `vault identity` prints it there.", valueName: "v1vsig1…"))
    var signingKey: String?
    @Flag(help: "Accept the drops it signs (`vault receive`).") var trust = false
    @Flag(help: "Print the recipient as JSON.") var json = false

    func validate() throws {
        try InputCheck.tokenNames([name])
        if trust && signingKey == nil { throw ValidationError("--trust needs --signing-key: a drop is trusted by the key that signed it") }
    }

    func run() throws {
        let vault = try global.openVault()
        let info = try global.unlock(vault).addRecipient(name, recipient: recipient, signingKey: signingKey, trusted: trust)
        if json { return Output.line(RecipientList.json(info).text) }
        Output.done("added recipient \(info.name)" + (info.trusted ? " (trusted: its signed drops are accepted)" : ""))
    }
}
