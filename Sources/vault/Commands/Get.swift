import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct Get: ParsableCommand, UsesGlobalOptions, NamesOneToken {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print a key's token and a newline (audited), as `pass show` and `op read` do.",
        discussion: """
            The current version unless --version. A newline follows the token, also when stdout \
            is not a terminal (`$(vault get NAME)` drops it); -n leaves it out, for a program \
            that reads the key from a pipe. `vault export NAME --format raw` does the same for \
            pipelines; `vault copy NAME` puts it on the clipboard instead.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var token: TokenNameArgument
    @Option(help: ArgumentHelp("A retired version instead of the current one.", valueName: "n")) var version: Int?
    @Flag(name: [.customShort("n"), .customLong("no-newline")], help: "No newline after the token.") var noNewline = false
    @Flag(name: .customLong("allow-expired"), help: "Print it even if the version has expired.") var allowExpired = false

    func run() throws {
        let vault = try global.openVault()
        // A name that is not stored fails before the passphrase is asked for.
        try vault.store.requireTokens([name])
        let unlocked = try global.unlock(vault)
        let revealed = try unlocked.reveal(name, version: version, allowExpired: allowExpired, action: RevealAction.get,
                                           details: ["destination": "stdout"])
        if let w = revealed.warning { Output.warn(w) }
        var out = SecureBytes(capacity: revealed.secret.count + 1, empty: true)
        out.append(revealed.secret)
        if !noNewline { out.append(0x0A) }
        try Output.writeSecret(out)
    }
}
