import ArgumentParser
import Foundation
import VaultCore

struct Lock: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Forget this vault's unlocked session now.",
        discussion: """
            Invalidates the session key in the kernel keyring (its payload is freed at once), of \
            either scope (`unlock --scope login` or `user`), and records a `lock` audit row. \
            --all forgets the session of every vault in this login session's keyring and in your \
            user keyring without opening any vault file (no audit rows): for a screen-lock or \
            logout hook (which then ends `--scope user` sessions for your other logins too).
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("all"), help: "Forget every vault's session in this login's keyring and your user keyring (no vault file needed).")
    var all = false

    @Flag(help: "One JSON object: vault, state (\"locked\"), was_unlocked; with --all: state, sessions.")
    var json = false

    func run() throws {
        if all {
            let n = try Session.lockAll()
            if json { return Output.result([("state", .string("locked")), ("sessions", .int(n))]) }
            Output.done(n == 0 ? "no unlocked session" : "locked \(n) session\(n == 1 ? "" : "s")")
            return
        }
        let vault = try global.openVault()
        let was = try vault.lock()
        if json { return Output.result([("vault", .string(vault.path)), ("state", .string("locked")), ("was_unlocked", .bool(was))]) }
        Output.done(was ? "locked \(vault.path)" : "\(vault.path) was not unlocked")
    }
}
