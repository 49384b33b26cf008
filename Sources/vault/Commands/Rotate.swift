import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct Rotate: ParsableCommand, UsesGlobalOptions, NamesOneToken {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Store a new version of a key; the previous one is retired (kept, sealed).",
        discussion: "Create the new key in the Vision One console first; the token is read as in `add`.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var token: TokenNameArgument
    @Option(help: ArgumentHelp("When the new version expires: 30d, 90d, 180d, 1y, never, or YYYY-MM-DD (default: as long from now as the current version's lifetime).", valueName: "when"))
    var expires: String?
    @Option(help: ArgumentHelp("Keep the newest N versions; older ones are destroyed.", valueName: "n")) var keep: Int = 10
    @OptionGroup var verify: CheckOption
    @OptionGroup var pasted: PastedKeyOptions
    @OptionGroup var console: ConsoleLinkOptions
    @Flag(help: "Print the result as one JSON object: name, current, previous, pruned, exported_files.") var json = false

    func run() throws {
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
