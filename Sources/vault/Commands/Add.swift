import ArgumentParser
import Foundation
import VaultCore
import VaultFormat
import VaultStorage

struct Add: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Store a new Vision One API key.",
        discussion: """
            The token is read from a hidden prompt, or from stdin when stdin is not a terminal \
            (surrounding whitespace and a leading "Bearer " are stripped). It is never accepted as \
            an argument. At a terminal the key is asked for first, then the passphrase; echo stays \
            off from the first prompt until the vault is unlocked, and an empty paste asks again \
            (three tries). A value not shaped like a Vision One key (a JWT) is confirmed at a \
            terminal and needs --force otherwise.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Name for the key: letters, digits, '.', '_', '-'; up to 64.", valueName: "name"))
    var name: String
    @OptionGroup var meta: MetadataOptions
    @OptionGroup var expiry: ExpiryOption
    @OptionGroup var verify: CheckOption
    @OptionGroup var pasted: PastedKeyOptions
    @OptionGroup var console: ConsoleLinkOptions
    @Flag(help: "Print the result as one JSON object: name, version, expires, region, base_url.") var json = false

    func validate() throws { try InputCheck.tokenNames([name]) }

    func run() throws {
        let metadata = try meta.metadata()
        let vault = try global.openVault()
        let expires = try expiry.date(now: vault.clock.now())
        // Fail fast on a duplicate before asking for anything secret.
        if (try? vault.store.tokenExists(name)) == true { throw VaultError.tokenExists(name: name) }
        // The key before the passphrase, so a mistaken paste costs no KDF; both prompts and the
        // unlock are one prompt span, echo off throughout.
        let token: SecureBytes
        let unlocked: UnlockedVault
        do {
            Terminal.beginPromptSpan()
            defer { Terminal.endPromptSpan() }
            token = try pasted.read()
            unlocked = try global.unlock(vault)
        }
        if verify.check {
            CheckOption.report(try unlocked.checkNew(name, token: token, baseURL: metadata.baseURL, checker: try verify.checker()))
        }
        let info = try unlocked.add(name, token: token, metadata: metadata, expires: expires, console: console.link)
        let now = vault.clock.now()
        let left = info.expires.map { ", \(ExpiryStatus.daysLeft(expires: $0, now: now)) days left" } ?? ""
        if json {
            return Output.result([("name", .string(name)), ("version", .int(info.version)), ("expires", .date(info.expires)),
                                  ("region", metadata.region.map { .string($0.rawValue) } ?? .null), ("base_url", .string(metadata.baseURL))])
        }
        Output.done("stored \(name) version \(info.version) (\(metadata.region?.rawValue ?? metadata.baseURL), expires \(Output.expiry(info.expires))\(left))")
    }
}
