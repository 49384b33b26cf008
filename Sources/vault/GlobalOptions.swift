import ArgumentParser
import Foundation
import VaultCore

/// Options every command accepts, before or after the subcommand name.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("vault"), help: ArgumentHelp("Vault file (default: $V1VAULT_PATH, else $XDG_DATA_HOME/v1vault/vault.db).", valueName: "path"))
    var vaultPath: String?

    @Option(name: .customLong("passphrase-file"), help: ArgumentHelp("Read the passphrase from this file (mode 0600; one trailing newline stripped).", valueName: "path"))
    var passphraseFile: String?

    @Option(name: .customLong("passphrase-fd"), help: ArgumentHelp("Read the passphrase from this open file descriptor.", valueName: "n"))
    var passphraseFD: Int32?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The vault file: --vault, $V1VAULT_PATH, $XDG_DATA_HOME/v1vault/vault.db, ~/.local/share/v1vault/vault.db.
    var resolvedPath: String {
        if let p = vaultPath { return p }
        if let p = environment["V1VAULT_PATH"], !p.isEmpty { return p }
        return Self.defaultDirectory(environment) + "/vault.db"
    }

    var isDefaultPath: Bool { vaultPath == nil && (environment["V1VAULT_PATH"] ?? "").isEmpty }

    static func defaultDirectory(_ env: [String: String]) -> String {
        if let x = env["XDG_DATA_HOME"], x.hasPrefix("/") { return x + "/v1vault" }
        let home = env["HOME"] ?? NSHomeDirectory()
        return home + "/.local/share/v1vault"
    }

    /// V1VAULT_WARN_DAYS, default 30.
    func warnDays() throws -> Int {
        guard let s = environment["V1VAULT_WARN_DAYS"], !s.isEmpty else { return ExpiryStatus.defaultWarnDays }
        guard let n = Int(s), (0...3650).contains(n) else {
            throw VaultError.invalidInput(reason: "V1VAULT_WARN_DAYS must be a whole number of days between 0 and 3650", hint: nil)
        }
        return n
    }

    var passphraseSource: PassphraseSource {
        PassphraseSource.resolve(fd: passphraseFD, file: passphraseFile, environment: environment)
    }

    func openVault() throws -> Vault {
        try Vault.open(at: resolvedPath, warnDays: try warnDays())
    }

    /// Reads the passphrase from its source and unlocks. A wrong passphrase is audited by VaultCore.
    func unlock(_ vault: Vault) throws -> UnlockedVault {
        let passphrase = try passphraseSource.read()
        return try vault.unlock(passphrase: passphrase)
    }
}
