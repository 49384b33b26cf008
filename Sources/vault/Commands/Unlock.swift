import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

extension SessionScope: ExpressibleByArgument {}

struct Unlock: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Ask for the passphrase once and keep this vault unlocked for a while (default 15m).",
        discussion: """
            Runs the KDF once and keeps the vault's key-encryption key — never the passphrase — \
            in the kernel keyring (keyrings(7)) with a kernel-enforced timeout; nothing is written \
            to disk. Until it ends, commands use it instead of asking (and their audit rows say \
            so). --scope login (the default): a key only your uid can read, and only from this \
            login session's keyring — anything running as you in this session can use it, other \
            logins and `vault exec` children cannot. --scope user: in your user keyring, so that \
            your other logins (a second ssh) need no passphrase either — but then every process \
            of your uid can use it: cron jobs, other logins, `vault exec` children. See \
            SECURITY.md, "Sessions". `vault lock` forgets it at once (either scope); `passwd`, \
            `kdf set` and `rekey` end it. --no-session (or V1VAULT_NO_SESSION=1) makes one command \
            ignore it.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("for"), help: ArgumentHelp("How long: 90s, 15m, 8h, at most 12h.", valueName: "time"))
    var duration: String = "15m"

    @Option(help: ArgumentHelp("Who may use it: login (this login session) or user (every process of your uid, in every login).", valueName: "scope"))
    var scope: SessionScope = .login

    @Flag(help: "One JSON object, as `status --json` prints it: vault, state, expires, seconds_left, keyring.")
    var json = false

    /// What a session allows, in one line after "unlocked …".
    static let allows = "until then any process of yours in this login session can use this vault without the passphrase (not passwd, kdf set, rekey); `vault lock` ends it now"

    func run() throws {
        let seconds = try Session.parseDuration(duration)
        let vault = try global.openVault()
        let info = try global.withPassphrase { p in try vault.startSession(passphrase: p, seconds: seconds, scope: scope) }
        if json {
            return Output.result([("vault", .string(vault.path)), ("state", .string("unlocked")), ("expires", .date(info.expires)),
                                  ("seconds_left", .int(Int(seconds))), ("keyring", .string(info.keyring.rawValue))])
        }
        Output.done("unlocked \(vault.path) until \(Timestamp.iso(info.expires)) (\(SessionText.length(TimeInterval(seconds))))")
        switch info.keyring {
        case .session:
            Output.note(Self.allows)
        case .userSession:
            Output.note("note: this process has no login-session keyring, so the key is in uid \(getuid())'s default user-session keyring: every process of yours can use it until then (one without a session keyring of its own, such as a cron job or an ssh login without pam_keyinit, as it is; any other, `vault exec` commands included, by joining that keyring by name); `vault lock` forgets it now")
        case .user:
            Output.note("note: in uid \(getuid())'s user keyring: every process of yours — other logins, cron jobs, `vault exec` children — can use it until then; `vault lock` forgets it now")
        }
    }
}
