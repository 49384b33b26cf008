import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

/// The new passphrase and KDF cost, for `passwd` and `rekey`.
struct NewPassphraseOptions: ParsableArguments {
    @Option(name: .customLong("new-passphrase-file"), help: ArgumentHelp("Read the new passphrase from this file instead of prompting twice.", valueName: "path"))
    var newPassphraseFile: String?
    @OptionGroup var kdf: KDFOptions

    func read() throws -> SecureBytes {
        let source: PassphraseSource = newPassphraseFile.map { .file($0) } ?? .terminal
        let p = try source.read(prompt: "New vault passphrase: ", confirm: true)
        if source != .terminal, let weak = Passphrase.weakness(p) {
            Output.warn("the new passphrase is weak (\(weak)); the vault is only as safe as it is")
        }
        return p
    }
}
