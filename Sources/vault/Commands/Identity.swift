import ArgumentParser
import Foundation
import VaultCore

struct Identity: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Print this vault's age recipient and signing key, for other vaults to add.",
        discussion: """
            Other vaults add these with `vault recipient add NAME RECIPIENT --signing-key KEY \
            [--trust]`: they encrypt drops to the recipient (age1…), and accept drops signed by \
            the key (v1vsig1…) when they trust it. A vault made before sharing existed gets its \
            identity now (audited). Needs the passphrase or a session: the keys are checked \
            against their sealed secrets before they are shown.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON: recipient, signing_key, created.") var json = false

    func run() throws {
        let vault = try global.openVault()
        let info = try global.unlock(vault).identity()
        if json {
            return Output.result([("recipient", .string(info.recipient)), ("signing_key", .string(info.signingKey)),
                                  ("created", .date(info.created))])
        }
        if info.generatedNow { Output.note("generated this vault's sharing identity") }
        Output.line("recipient: \(info.recipient)")
        Output.line("signing key: \(info.signingKey)")
        Output.hint(Output.spelled("on the other vault: `vault recipient add NAME \(info.recipient) --signing-key \(info.signingKey) --trust` (--trust: it accepts what this vault shares)"))
    }
}
