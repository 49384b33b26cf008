import ArgumentParser
import Foundation
import VaultCore

struct Unlock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Ask for the passphrase once and keep this vault unlocked for a while (default 15m).",
        discussion: """
            Runs the KDF once and keeps the vault's key-encryption key — never the passphrase — \
            in the kernel keyring (keyrings(7)) as a key only your uid can read, possessed by \
            this login session, with a kernel-enforced timeout; nothing is written to disk. Until \
            it ends, every command of this session uses it instead of asking (and its audit row \
            says so). Anything running as you in this session can use it too: see SECURITY.md, \
            "Sessions". `vault lock` forgets it at once; `passwd`, `kdf set` and `rekey` end it. \
            --no-session (or V1VAULT_NO_SESSION=1) makes one command ignore it.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("for"), help: ArgumentHelp("How long: 90s, 15m, 8h, at most 12h.", valueName: "time"))
    var duration: String = "15m"

    @Flag(help: "One JSON object, as `status --json` prints it: vault, state, expires, seconds_left, keyring.")
    var json = false

    func run() throws {
        let seconds = try Session.parseDuration(duration)
        let vault = try global.openVault()
        let info = try global.withPassphrase { p in try vault.startSession(passphrase: p, seconds: seconds) }
        if json {
            return Output.result([("vault", .string(vault.path)), ("state", .string("unlocked")), ("expires", .date(info.expires)),
                                  ("seconds_left", .int(Int(seconds))), ("keyring", .string(info.keyring.rawValue))])
        }
        Output.done("unlocked \(vault.path) until \(Timestamp.iso(info.expires)) (\(SessionText.length(TimeInterval(seconds))))")
        switch info.keyring {
        case .session:
            Output.note("commands in this login session use it; `vault lock` forgets it now")
        case .userSession:
            Output.note("note: this process has no login-session keyring, so the key is in uid \(getuid())'s default user-session keyring: every process of yours without a session keyring of its own (cron jobs, ssh logins without pam_keyinit) can use it until then; `vault lock` forgets it now")
        }
    }
}

/// Words for session lengths, shared by unlock and status.
enum SessionText {
    /// 900 → "15m", 5400 → "1h 30m", 42 → "42s".
    static func length(_ t: TimeInterval) -> String {
        let s = max(0, Int(t.rounded(.up)))
        let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60)
        return [h > 0 ? "\(h)h" : nil, m > 0 ? "\(m)m" : nil, sec > 0 || s == 0 ? "\(sec)s" : nil]
            .compactMap { $0 }.joined(separator: " ")
    }
}
