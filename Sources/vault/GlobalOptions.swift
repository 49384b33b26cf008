import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

/// A command that takes the global options (every one that touches a vault): how `Main`
/// finds --quiet and the vault of the command it parsed.
protocol UsesGlobalOptions {
    var global: GlobalOptions { get }
}

/// Options every command accepts, before or after the subcommand name.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("vault"), help: ArgumentHelp("Vault file (default: $V1VAULT_PATH, else $XDG_DATA_HOME/v1vault/vault.db).", valueName: "path"))
    var vaultPath: String?

    @Option(name: .customLong("passphrase-file"), help: ArgumentHelp("Read the passphrase from this file (mode 0600; one trailing newline stripped).", valueName: "path"))
    var passphraseFile: String?

    @Option(name: .customLong("passphrase-fd"), help: ArgumentHelp("Read the passphrase from this open file descriptor.", valueName: "n"))
    var passphraseFD: Int32?

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No confirmations, notes or hints: only results, warnings and errors.")
    var quiet = false

    @Flag(name: .customLong("no-session"), help: "Ignore an unlocked session (`vault unlock`): ask for the passphrase (also V1VAULT_NO_SESSION=1).")
    var noSession = false

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The vault file: --vault, $V1VAULT_PATH, $XDG_DATA_HOME/v1vault/vault.db, ~/.local/share/v1vault/vault.db.
    var resolvedPath: String { Self.path(explicit: vaultPath, environment) }

    /// --vault (`explicit`), else $V1VAULT_PATH, else the default (also used by completion).
    static func path(explicit: String?, _ env: [String: String]) -> String {
        if let p = explicit { return p }
        if let p = env["V1VAULT_PATH"], !p.isEmpty { return p }
        return defaultDirectory(env) + "/vault.db"
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

    /// Whether a session may serve this command: not with --no-session, nor with
    /// V1VAULT_NO_SESSION set to anything but empty or 0.
    var sessionAllowed: Bool {
        let v = environment["V1VAULT_NO_SESSION"] ?? ""
        return !noSession && (v.isEmpty || v == "0")
    }

    /// Unlocks from this vault's session when one is live (and `session` allows it), else
    /// with the passphrase. At a terminal prompt a wrong passphrase asks again, three tries in
    /// all, like sudo; each failure is audited by VaultCore.
    func unlock(_ vault: Vault, session: Bool = true) throws -> UnlockedVault {
        if session && sessionAllowed, let unlocked = try vault.unlockFromSession() { return unlocked }
        return try withPassphrase { p in try vault.unlock(passphrase: p) }
    }

    /// Reads the passphrase and runs `body` with it; a wrong one read at a terminal is asked
    /// for again, three tries in all. The tries and their KDF runs are one prompt span: echo
    /// stays off throughout, so what is typed or pasted while the KDF runs is never shown.
    func withPassphrase<T>(_ body: (borrowing SecureBytes) throws -> T) throws -> T {
        try Terminal.promptSpan { () throws -> T in try withPassphraseTries(body) }
    }

    private func withPassphraseTries<T>(_ body: (borrowing SecureBytes) throws -> T) throws -> T {
        let source = passphraseSource
        let tries = source == .terminal ? 3 : 1
        var attempt = 1
        while true {
            let passphrase = try source.read()
            do {
                return try body(passphrase)
            } catch VaultError.wrongPassphrase where attempt < tries {
                Output.note("wrong passphrase, try again (\(tries - attempt) left)")
                attempt += 1
            } catch VaultError.wrongPassphrase where source != .terminal && passphrase.count > 0 && passphrase[passphrase.count - 1] == 0x0D {
                throw VaultError.wrongPassphraseCarriageReturn
            }
        }
    }
}
