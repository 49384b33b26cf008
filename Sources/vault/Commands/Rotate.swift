import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct Rotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Store a new version of a key; the previous one is retired (kept, sealed).",
        discussion: "Create the new key in the Vision One console first; the token is read as in `add`.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The key's name.", valueName: "name"), completion: Completions.tokenNames) var name: String
    @Option(help: ArgumentHelp("When the new version expires: 30d, 90d, 180d, 1y, never, or YYYY-MM-DD (default: as long from now as the current version's lifetime).", valueName: "when"))
    var expires: String?
    @Option(help: ArgumentHelp("Keep the newest N versions; older ones are destroyed.", valueName: "n")) var keep: Int = 10
    @OptionGroup var verify: CheckOption
    @OptionGroup var pasted: PastedKeyOptions
    @OptionGroup var console: ConsoleLinkOptions
    @Flag(help: "Print the result as one JSON object: name, current, previous, pruned, exported_files.") var json = false

    func run() throws {
        try Validate.tokenName(name)
        try UnlockedVault.checkKeep(keep)  // before the token is asked for, not after
        let vault = try global.openVault()
        let expiry: UnlockedVault.RotationExpiry = try expires.map { .at(try ExpirySpec.parse($0, now: vault.clock.now())) } ?? .sameLifetime
        try vault.store.requireTokens([name])
        // The key before the passphrase, as in `add`.
        let token: SecureBytes
        let unlocked: UnlockedVault
        do {
            Terminal.beginPromptSpan()
            defer { Terminal.endPromptSpan() }
            token = try pasted.read(prompt: "Paste the new Vision One API key (input hidden): ")
            unlocked = try global.unlock(vault)
        }
        if verify.check {
            let url = try unlocked.verifiedBaseURL(name)
            CheckOption.report(try unlocked.checkNew(name, token: token, baseURL: url, checker: try verify.checker()))
        }
        let result = try unlocked.rotate(name, token: token, expiry: expiry, keep: keep, console: console.link)
        let stale = (try? vault.exportedFiles(of: name, version: result.previous.version)) ?? []
        if json { RotationReport.json(name: name, result, exportedFiles: stale) } else { RotationReport.print(name: name, result, verb: "rotated") }
        for path in stale {
            Output.warn("\(path) was exported from version \(result.previous.version) and still holds the old key: export it again, or delete it")
        }
    }
}

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make an older version's secret current again, as a new version.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The key's name.", valueName: "name"), completion: Completions.tokenNames) var name: String
    @Option(help: ArgumentHelp("The version to restore.", valueName: "n")) var to: Int
    @Option(help: ArgumentHelp("Keep the newest N versions.", valueName: "n")) var keep: Int = 10
    @Flag(name: .customLong("allow-expired"), help: "Restore even if that version has expired.") var allowExpired = false
    @Flag(help: "Print the result as one JSON object: name, current, previous, pruned.") var json = false

    func run() throws {
        try Validate.tokenName(name)
        try UnlockedVault.checkKeep(keep)  // before the passphrase is asked for
        let vault = try global.openVault()
        try vault.store.requireTokens([name])
        let unlocked = try global.unlock(vault)
        let result = try unlocked.rollback(name, to: to, keep: keep, allowExpired: allowExpired)
        if json { RotationReport.json(name: name, result, exportedFiles: nil) } else { RotationReport.print(name: name, result, verb: "rolled back", source: to) }
        let key = result.current.consoleName.map { "its console key \($0)" } ?? "its key"
        Output.warn("version \(to) was replaced by a rotation: if \(key) was deleted or disabled in the Vision One console since (as rotate and renew do), it no longer works; \(Shell.command("vault", "check", name)) tells")
    }
}

enum RotationReport {
    static let walBusy = "another process has the vault open: the destroyed ciphertext may remain in the -wal file until it closes the vault"

    static func json(name: String, _ r: RotationResult, exportedFiles: [String]?) {
        func version(_ v: TokenVersionInfo) -> JSONValue { .object([("version", .int(v.version)), ("expires", .date(v.expires))]) }
        var fields: [(String, JSONValue)] = [("name", .string(name)), ("current", version(r.current)), ("previous", version(r.previous)),
                                             ("pruned", .array(r.pruned.map { .int($0) })), ("wal_purged", .bool(r.walPurged))]
        if let exportedFiles { fields.append(("exported_files", .array(exportedFiles.map { .string($0) }))) }
        Output.result(fields)
        if !r.walPurged { Output.warn(RotationReport.walBusy) }
    }

    static func print(name: String, _ r: RotationResult, verb: String, source: Int? = nil) {
        let from = source.map { " (secret of version \($0))" } ?? ""
        Output.done("\(verb) \(name): version \(r.current.version)\(from) is current, expires \(Output.expiry(r.current.expires)); version \(r.previous.version) retired")
        if !r.pruned.isEmpty {
            Output.done("destroyed old version\(r.pruned.count == 1 ? "" : "s") \(r.pruned.map(String.init).joined(separator: ", "))")
            if !r.walPurged { Output.warn(RotationReport.walBusy) }
        }
        let when = r.previous.expires.map { "it expires on \(Timestamp.day($0))" } ?? "it never expires"
        let key = r.previous.consoleName.map { "the old console key \($0) (version \(r.previous.version))" } ?? "the old key (version \(r.previous.version))"
        Output.hint("delete or disable \(key) in the Vision One console (Administration > API Keys); \(when)")
    }
}

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Delete a key and every version of it (overwritten on disk).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The key's name.", valueName: "name"), completion: Completions.tokenNames) var name: String
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Flag(help: "Print the result as one JSON object: name, versions, wal_purged.") var json = false

    func run() throws {
        try Validate.tokenName(name)
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

/// The new passphrase and KDF cost, for `passwd` and `rekey`.
struct NewPassphraseOptions: ParsableArguments {
    @Option(name: .customLong("new-passphrase-file"), help: ArgumentHelp("Read the new passphrase from this file instead of prompting twice.", valueName: "path"))
    var newPassphraseFile: String?
    @OptionGroup var kdf: KDFOptions

    func read() throws -> SecureBytes {
        let source: PassphraseSource = newPassphraseFile.map { .file($0) } ?? .terminal
        let p = try source.read(prompt: "New vault passphrase: ", confirm: true)
        if source != .terminal, let weak = Passphrase.weakness(p) {
            Output.warn("the new passphrase is weak (\(weak)); the vault is only as safe as it is")
        }
        return p
    }
}

struct Passwd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Change the passphrase (rewraps the master key; no token is re-encrypted).",
        discussion: """
            O(1): only the header changes. The master key stays the same, so a copy of the old \
            header (an old backup, or the file copied before) plus the old passphrase still \
            decrypts every token, including ones added later. If the passphrase leaked, use \
            `vault rekey`.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var new: NewPassphraseOptions
    @Flag(help: "One JSON object: vault, kdf (algorithm, memory, ops).") var json = false

    func run() throws {
        let vault = try global.openVault()
        // Changing the passphrase needs the current one, never a session.
        let unlocked = try global.unlock(vault, session: false)
        let (params, target) = try new.kdf.resolve(current: try unlocked.kdfParameters())
        let newPassphrase = try new.read()
        try unlocked.rewrap(passphrase: newPassphrase, parameters: params, targetMilliseconds: target, action: "passwd")
        if json { return Output.result([("vault", .string(vault.path)), ("kdf", kdfJSON(params))]) }
        Output.done("passphrase changed (argon2id, memory \(ByteSize.format(params.memLimit)), ops \(params.opsLimit))")
    }
}
