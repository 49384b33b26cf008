import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct Init: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new vault.",
        discussion: "Asks for the passphrase twice on a terminal. Never overwrites an existing file.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var kdf: KDFOptions
    @Flag(help: "One JSON object: vault, kdf (algorithm, memory, ops).") var json = false

    func run() throws {
        let path = global.resolvedPath
        if global.isDefaultPath {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        if FileManager.default.fileExists(atPath: path) { throw VaultError.vaultExists(path: path) }
        try VaultStore.checkCreatable(path)
        let (params, target) = try kdf.resolve()
        let source = global.passphraseSource
        let passphrase = try source.read(prompt: "New vault passphrase: ", confirm: true)
        // At a terminal a weak passphrase was confirmed; from a file, fd or variable, say so.
        if source != .terminal, let weak = Passphrase.weakness(passphrase) {
            Output.warn("this passphrase is weak (\(weak)); the vault is only as safe as it is")
        }
        _ = try Vault.create(at: path, passphrase: passphrase, parameters: params, targetMilliseconds: target, warnDays: try global.warnDays())
        if json { return Output.result([("vault", .string(path)), ("kdf", kdfJSON(params))]) }
        Output.done("created vault \(path) (argon2id, memory \(ByteSize.format(params.memLimit)), ops \(params.opsLimit))")
        Output.note("""
            next: `vault add NAME` stores a key the moment the console shows it (Administration > API Keys)
            keep the passphrase safe: it cannot be recovered, and nothing in the vault opens without it
            back the vault up (`vault backup PATH`) and keep the copy as safely as the passphrase
            """)
    }
}
