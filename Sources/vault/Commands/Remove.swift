import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct Remove: ParsableCommand, UsesGlobalOptions, NamesOneToken {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Delete a key and every version of it (overwritten on disk).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var token: TokenNameArgument
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Flag(help: "Print the result as one JSON object: name, versions, wal_purged.") var json = false

    func run() throws {
        let vault = try global.openVault()
        let summary = try vault.show(name)
        if !yes {
            guard Terminal.stdinIsTerminal else {
                throw VaultError.cancelled(reason: "not removing \(name) without confirmation; pass --yes when not on a terminal")
            }
            guard try Terminal.open().confirm("Remove \(name) and all \(summary.versionCount) version(s)? This cannot be undone.") else {
                throw VaultError.cancelled(reason: "\(name) was not removed")
            }
        }
        let unlocked = try global.unlock(vault)
        let purged = try unlocked.remove(name)
        if !purged { Output.warn(RotationReport.walBusy) }
        if json {
            return Output.result([("name", .string(name)), ("versions", .int(summary.versionCount)), ("wal_purged", .bool(purged))])
        }
        Output.done("removed \(name) (\(summary.versionCount) version\(summary.versionCount == 1 ? "" : "s"))")
        Output.hint("also delete the key in the Vision One console if it is still active")
    }
}
