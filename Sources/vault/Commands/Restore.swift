import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct Restore: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put a backup back in place of the vault, keeping the vault it replaces.",
        discussion: """
            Copies FILE (a `vault backup`), checks the copy (it unlocks with the backup's \
            passphrase, its audit chain verifies, every token authenticates), and writes it over \
            the vault through SQLite; the vault it replaces is kept as PATH.replaced-<time>. \
            Renewal intents that were open in the backup become verify-only: `vault renew` \
            reports the console keys they made and never disables or deletes them (the renewal \
            may have finished in the replaced vault, and its new key be in use). Run \
            `vault sync` afterwards: keys renewed after the backup was taken are in the console \
            but not in the restored vault (their values are in the replaced file).
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The backup to put back.", valueName: "file")) var file: String
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        let target = global.resolvedPath
        let exists = FileManager.default.fileExists(atPath: target)
        if exists && !yes {
            guard Terminal.stdinIsTerminal else {
                throw VaultError.cancelled(reason: "not replacing \(target) without confirmation; pass --yes when not on a terminal")
            }
            guard try Terminal.open().confirm("Replace \(target) with \(file)? The current vault is kept beside it.") else {
                throw VaultError.cancelled(reason: "\(target) was not replaced")
            }
        }
        let r = try Vault.restore(from: file, to: target, unlock: { v in try global.unlock(v, session: false) })
        if json {
            return Output.result([("from", .string(r.source)), ("to", .string(r.target)), ("kept_as", r.keptAs.map { .string($0) } ?? .null),
                                  ("tokens", .int(r.tokens)), ("audit_head", r.head.map { .string("\($0)") } ?? .null),
                                  ("verify_only_intents", .array(r.verifyOnly.map { .int(Int($0.id)) }))])
        }
        Output.done("restored \(r.source) to \(r.target): \(r.tokens) token\(r.tokens == 1 ? "" : "s"), audit head \(r.head.map { "\($0)" } ?? "?")")
        if let kept = r.keptAs { Output.note("the vault it replaced is kept as \(kept)") }
        if !r.verifyOnly.isEmpty {
            Output.note("\(r.verifyOnly.count) renewal intent\(r.verifyOnly.count == 1 ? " was" : "s were") open in the backup (\(r.verifyOnly.map { "\($0.id) \($0.plannedName)" }.joined(separator: ", "))): now verify-only — `vault renew` reports any console key they made and never disables or deletes it")
        }
        Output.hint("`vault sync` compares the restored vault with the console: keys renewed after the backup are in the console but not here")
    }
}
