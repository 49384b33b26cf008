import ArgumentParser
import Foundation
import VaultCore

struct Rekey: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "rekey",
        abstract: "Replace the master key and the passphrase; re-encrypt every kept version.",
        discussion: """
            For a passphrase (or a copy of the file) you believe leaked: a new random master key, \
            wrapped under a new passphrase, and every kept version, metadata MAC and state MAC \
            sealed again under it, in one transaction. An old copy of the file plus the old \
            passphrase then opens nothing stored after the rekey (it still opens what that copy \
            held). `audit verify` still checks the whole history: earlier audit keys are kept, \
            sealed under the new master. O(versions), with a progress bar on a terminal. \
            `vault passwd` is O(1) and does not do this.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var new: NewPassphraseOptions
    @Flag(help: "One JSON object: vault, kdf, tokens, versions, archived_audit_rows.") var json = false

    func run() throws {
        let vault = try global.openVault()
        let unlocked = try global.unlock(vault, session: false)
        let (params, target) = try new.kdf.resolve(current: try unlocked.kdfParameters())
        let newPassphrase = try new.read()
        let showProgress = isatty(2) == 1
        let result = try unlocked.rekey(passphrase: newPassphrase, parameters: params, targetMilliseconds: target,
                                        progress: showProgress ? { done, total in Output.progress(done, of: total, done: done == total) } : nil)
        if json {
            return Output.result([("vault", .string(vault.path)), ("kdf", kdfJSON(params)), ("tokens", .int(result.tokens)),
                                  ("versions", .int(result.versions)), ("archived_audit_rows", .int(Int(result.archivedAuditRows)))])
        }
        Output.done("rekeyed: new master key and passphrase; \(result.versions) version\(result.versions == 1 ? "" : "s") of \(result.tokens) token\(result.tokens == 1 ? "" : "s") re-encrypted; audit rows 1-\(result.archivedAuditRows) stay verifiable under their earlier key")
        Output.hint("old backups still open with the old passphrase: destroy them, or keep them as safely as the old passphrase")
    }
}
