import ArgumentParser
import Foundation
import VaultCore

struct Lock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Forget this vault's unlocked session now.",
        discussion: """
            Invalidates the session key in the kernel keyring (its payload is freed at once) and \
            records a `lock` audit row. --all forgets the session of every vault in this login \
            session's keyring without opening any vault file (no audit rows): for a screen-lock \
            or logout hook.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("all"), help: "Forget every vault's session in this keyring (no vault file needed).")
    var all = false

    func run() throws {
        if all {
            let n = try Session.lockAll()
            Output.done(n == 0 ? "no unlocked session" : "locked \(n) session\(n == 1 ? "" : "s")")
            return
        }
        let vault = try global.openVault()
        Output.done(try vault.lock() ? "locked \(vault.path)" : "\(vault.path) was not unlocked")
    }
}
