import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct Import: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Add many keys in one transaction and one unlock (all or nothing).",
        discussion: """
            dotenv: NAME=TOKEN per line (# comments, blank lines, an export prefix and surrounding \
            quotes are allowed); metadata flags apply to every entry. json: an array of objects with \
            name, token and optionally region, base_url, expires, role, description, permissions, \
            console_id, console_name, console_state, manager (true or false); flags are defaults. \
            Or the output of `export --format json --json-meta`, whose _meta restores each token's \
            metadata, console link and manager mark. A console key already linked to another token, \
            or a manager mark for a base URL that already has a manager (two in the input, or one \
            here), refuses the whole import (exit 64). FILE '-' reads stdin; the passphrase prompt \
            then reads the terminal.
            """)

    enum Format: String, ExpressibleByArgument { case dotenv, json }

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The file to import, or - for stdin.", valueName: "file")) var file: String
    @Option(help: ArgumentHelp("dotenv or json (default: json for *.json, else dotenv).", valueName: "format")) var format: Format?
    @OptionGroup var meta: MetadataOptions
    @OptionGroup var expiry: ExpiryOption
    @Flag(help: "Print the result as one JSON object: imported, names.") var json = false

    func run() throws {
        let metadata = try meta.metadata()
        let vault = try global.openVault()
        let now = vault.clock.now()
        let expires = try expiry.date(now: now)
        let input = try readInput()
        let fmt = format ?? (file.hasSuffix(".json") ? .json : .dotenv)
        let entries = fmt == .json ? try ImportParser.json(input, defaults: metadata, expires: expires, now: now)
                                   : try ImportParser.dotenv(input, metadata: metadata, expires: expires)
        guard !entries.isEmpty else { throw VaultError.invalidInput(reason: "\(file) holds no tokens", hint: nil) }
        let unlocked = try global.unlock(vault)
        let showProgress = isatty(2) == 1 && entries.count >= 1000
        let count = try unlocked.importTokens(entries, source: file == "-" ? "stdin" : "file") { done in
            if showProgress { Output.progress(done, of: entries.count) }
        }
        if showProgress { Output.progress(entries.count, of: entries.count, done: true) }
        if json {
            Output.result([("imported", .int(count)), ("names", .array(entries.map { .string($0.name) }))])
        } else {
            Output.done("imported \(count) token\(count == 1 ? "" : "s")")
        }
        if file != "-" { Output.hint("\(file) still holds the plaintext tokens: delete it (e.g. shred -u \(file))") }
    }

    func readInput() throws -> SecureBytes {
        if file == "-" {
            // The note once echo is off (`announce`), so a paste sent when it appears is not shown.
            return try SecretInput.readAllHidingEcho(fd: 0, max: ImportParser.maxBytes, what: "import") {
                Output.note("paste or type the keys (input hidden), then press Ctrl-D on an empty line")
            }
        }
        var st = stat()
        guard stat(file, &st) == 0 else { throw VaultError.invalidInput(reason: "cannot read \(file): \(String(cString: strerror(errno)))", hint: nil) }
        if (st.st_mode & S_IFMT) == S_IFREG, st.st_mode & 0o077 != 0 {
            Output.warn("\(file) is readable by other users (mode \(String(st.st_mode & 0o777, radix: 8))); it holds plaintext tokens")
        }
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VaultError.invalidInput(reason: "cannot read \(file): \(String(cString: strerror(errno)))", hint: nil) }
        defer { close(fd) }
        return try SecretInput.readAll(fd: fd, max: ImportParser.maxBytes, what: "import", stripNewline: false)
    }
}
