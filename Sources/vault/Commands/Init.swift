import ArgumentParser
import Foundation
import VaultCore

struct KDFOptions: ParsableArguments {
    @Option(name: .customLong("kdf-memory"), help: ArgumentHelp("Argon2id memory, e.g. 64M, 256M, 1G (default 256M).", valueName: "size"))
    var memory: String?

    @Option(name: .customLong("kdf-ops"), help: ArgumentHelp("Argon2id passes (default 3).", valueName: "n"))
    var ops: UInt64?

    /// The parameters asked for, defaulting each missing one to libsodium's MODERATE preset.
    func parameters() throws -> KDFParameters {
        var p = KDFParameters.moderate
        if let m = memory { p.memLimit = try ByteSize.parse(m) }
        if let o = ops { p.opsLimit = o }
        do { try p.validate() } catch {
            if case .unsafeKDFParameters(let reason) = error {
                throw VaultError.invalidInput(reason: "KDF parameters out of bounds: \(reason)", hint: "memory 8K...4G, ops 1...256, ops × memory ≤ 16G")
            }
            throw error
        }
        return p
    }

    static func warnIfWeak(_ p: KDFParameters) {
        if p.isBelowInteractive {
            Output.warn("KDF parameters (\(ByteSize.format(p.memLimit)), ops \(p.opsLimit)) are below libsodium's INTERACTIVE preset (64M, ops 2): fine for tests, weak for a real vault")
        }
    }
}

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a new vault.",
        discussion: "Asks for the passphrase twice on a terminal. Never overwrites an existing file.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var kdf: KDFOptions

    func run() throws {
        let params = try kdf.parameters()
        let path = global.resolvedPath
        if global.isDefaultPath {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        if FileManager.default.fileExists(atPath: path) { throw VaultError.vaultExists(path: path) }
        try VaultStorePreflight.checkCreatable(path)
        KDFOptions.warnIfWeak(params)
        let passphrase = try global.passphraseSource.read(prompt: "New vault passphrase: ", confirm: true)
        _ = try Vault.create(at: path, passphrase: passphrase, parameters: params, warnDays: try global.warnDays())
        Output.line("created vault \(path) (argon2id, memory \(ByteSize.format(params.memLimit)), ops \(params.opsLimit))")
    }
}
