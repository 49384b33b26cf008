import ArgumentParser
import Foundation
import VaultCore

struct RecipientTrust: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "Accept (or, with --revoke, stop accepting) the drops a recipient signs.",
        discussion: "Check the signing key with its owner first (`vault identity` on their side). A recipient added without a key gets it here; a different key than the one on record is refused (remove and add it again). Audited.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The recipient.", valueName: "name")) var name: String
    @Option(name: .customLong("signing-key"), help: ArgumentHelp("Its signing key, if none is on record yet.", valueName: "v1vsig1…"))
    var signingKey: String?
    @Flag(help: "Stop trusting it: its drops are refused (33) from now on.") var revoke = false

    func validate() throws { try InputCheck.tokenNames([name]) }

    func run() throws {
        let vault = try global.openVault()
        let info = try global.unlock(vault).setTrust(name, signingKey: signingKey, trusted: !revoke)
        Output.done(info.trusted ? "trusting recipient \(info.name): its signed drops are accepted" : "no longer trusting recipient \(info.name)")
    }
}
