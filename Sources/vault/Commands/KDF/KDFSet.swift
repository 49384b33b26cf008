import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct KDFSet: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Re-derive the key-encryption key with new Argon2id parameters (O(1), like passwd).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var kdf: KDFOptions
    @Flag(help: "One JSON object: vault, kdf (algorithm, memory, ops).") var json = false

    func validate() throws {
        if kdf.time == nil && kdf.ops == nil && kdf.memory == nil {
            throw ValidationError("give --kdf-time, or --kdf-ops and/or --kdf-memory")
        }
    }

    func run() throws {
        let vault = try global.openVault()
        // The KEK is re-derived from the passphrase itself, so this never uses a session.
        let params = try global.withPassphrase { passphrase in
            let unlocked = try vault.unlock(passphrase: passphrase)
            let (params, target) = try kdf.resolve(current: try unlocked.kdfParameters())
            try unlocked.rewrap(passphrase: passphrase, parameters: params, targetMilliseconds: target, action: "kdf-set")
            return params
        }
        if json { return Output.result([("vault", .string(vault.path)), ("kdf", kdfJSON(params))]) }
        Output.done("KDF set: argon2id, memory \(ByteSize.format(params.memLimit)), ops \(params.opsLimit)")
    }
}
