import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct Share: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "share",
        abstract: "Write keys as an age file for other vaults (recipients) to receive.",
        discussion: """
            The file is age v1 (X25519), readable by the recipients' vaults only; inside is a \
            transfer document signed with this vault's signing key: each key's value, metadata, \
            version and expiry. With -o (or on standard output), one file for every --to recipient. With --outbox DIR, \
            one file per recipient and key, DIR/RECIPIENT/KEY.age, replacing the previous one \
            atomically — the layout `renew --publish` writes and a git repository carries. \
            Audited; nothing is written when the audit row cannot be.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Stored tokens to share (their current versions).", valueName: "name"), completion: Completions.tokenNames)
    var names: [String]
    @Option(name: .customLong("to"), help: ArgumentHelp("A recipient (repeat for several).", valueName: "recipient")) var to: [String] = []
    @Flag(help: "Send each key to the recipients that follow it (`vault recipient follow`).") var followers = false
    @Option(name: .shortAndLong, help: ArgumentHelp("Write one age file here (default, or '-': standard output, when it is not a terminal).", valueName: "file"))
    var output: String?
    @Option(help: ArgumentHelp("Write DIR/RECIPIENT/KEY.age for each recipient and key.", valueName: "dir")) var outbox: String?
    @Flag(help: "Replace an existing -o file (atomically).") var force = false
    @Flag(name: .customLong("allow-expired"), help: "Share an expired version anyway.") var allowExpired = false
    @Flag(help: "Print what was written as JSON.") var json = false

    func validate() throws {
        try InputCheck.tokenNames(names)
        try InputCheck.tokenNames(to)
        if names.isEmpty { throw ValidationError("name at least one token") }
        if to.isEmpty == !followers { throw ValidationError("give --to RECIPIENT… or --followers") }
        if output != nil && outbox != nil { throw ValidationError("give -o FILE or --outbox DIR, not both") }
        if followers && outbox == nil { throw ValidationError("--followers writes one file per recipient and key: give --outbox DIR") }
    }

    func run() throws {
        let output = outbox == nil ? (self.output ?? "-") : nil
        if output == "-" && isatty(1) == 1 {
            throw VaultError.invalidInput(reason: "refusing to write an age file to a terminal", hint: "redirect standard output or give -o FILE")
        }
        var file: OutputFile?
        if let output, output != "-" { file = try OutputFile.create(output, replace: force) }
        defer { file?.abandon() }
        let vault = try global.openVault()
        try vault.store.requireTokens(names)
        let target: ShareTarget = followers ? .followers : outbox != nil ? .each(to) : .recipients(to)
        let drops = try global.unlock(vault).share(names, to: target, allowExpired: allowExpired)
        var written: [(drop: Drop, path: String)] = []
        if let outbox {
            for d in drops {
                written.append((d, try Outbox.write(d.bytes, dir: outbox, recipient: d.recipients[0], token: d.tokens[0].name)))
            }
        } else if let d = drops.first {
            var bytes = SecureBytes(capacity: d.bytes.count, empty: true)
            d.bytes.withUnsafeBytes { bytes.append($0) }
            if let file { try file.write(bytes); written.append((d, file.path)) } else { try Output.writeSecret(bytes); written.append((d, "-")) }
        }
        if json {
            return Output.line(JSONValue.array(written.map { w in
                .object([("path", .string(w.path)), ("recipients", .array(w.drop.recipients.map { .string($0) })),
                         ("tokens", .array(w.drop.tokens.map { .object([("name", .string($0.name)), ("version", .int($0.version))]) }))])
            }).text)
        }
        if drops.isEmpty { Output.note("nothing to write: no recipient follows \(names.joined(separator: ", "))") }
        for w in written {
            let keys = w.drop.tokens.map { "\($0.name) version \($0.version)" }.joined(separator: ", ")
            Output.note("shared \(keys) with \(w.drop.recipients.joined(separator: ", ")) → \(w.path)")
        }
    }
}
