import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct Passwd: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Change the passphrase (rewraps the master key; no token is re-encrypted).",
        discussion: """
            O(1): only the header changes. The master key stays the same, so a copy of the old \
            header (an old backup, or the file copied before) plus the old passphrase still \
            decrypts every token, including ones added later. If the passphrase leaked, use \
            `vault rekey`.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var new: NewPassphraseOptions
    @Flag(help: "One JSON object: vault, kdf (algorithm, memory, ops).") var json = false

    func run() throws {
        let vault = try global.openVault()
        // Changing the passphrase needs the current one, never a session.
        let unlocked = try global.unlock(vault, session: false)
        let (params, target) = try new.kdf.resolve(current: try unlocked.kdfParameters())
        let newPassphrase = try new.read()
        try unlocked.rewrap(passphrase: newPassphrase, parameters: params, targetMilliseconds: target, action: "passwd")
        if json { return Output.result([("vault", .string(vault.path)), ("kdf", kdfJSON(params))]) }
        Output.done("passphrase changed (argon2id, memory \(ByteSize.format(params.memLimit)), ops \(params.opsLimit))")
    }
}
