import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct DoctorCommand: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check permissions, SQLite integrity, schema, every stored version and the audit chain.",
        discussion: "Prints one line per check. Exit 0 when everything passes, 21 when a problem was found.")

    @OptionGroup var global: GlobalOptions
    @Flag(name: .customLong("no-unlock"), help: "Skip the checks that need the passphrase (decryption, audit chain).") var noUnlock = false
    @Option(name: .customLong("expect-head"), help: ArgumentHelp("Also check the audit log against a recorded head.", valueName: "head")) var expectHead: String?
    @Flag(help: "Print JSON.") var json = false
    @Flag(name: .customLong("seal-metadata"), help: "Vouch for tokens whose metadata has no MAC (vaults from before schema 2): check their base URLs with `vault list` first.")
    var sealMetadata = false

    func validate() throws {
        if sealMetadata && noUnlock { throw ValidationError("--seal-metadata needs the passphrase; drop --no-unlock") }
    }

    func run() throws {
        let head = try expectHead.map { h throws(VaultError) in try AuditHead.parse(h) }
        let vault: Vault
        do {
            vault = try global.openVault()
        } catch let error as VaultError {
            guard let found = Doctor.refusedOpen(error) else { throw error }
            report(found)
            throw ExitCode(ExitStatus.doctorFoundProblems)
        }
        var checks = Doctor.offline(vault)
        if !noUnlock {
            let unlocked = try global.unlock(vault)
            if sealMetadata {
                let (sealed, refused) = try unlocked.sealLegacyMetadata()
                for (name, url) in sealed { Output.note("sealed metadata of \(name) (\(url))") }
                for (name, why) in refused { Output.warn("did not vouch for \(name): \(why)") }
                for (name, v) in try unlocked.sealLegacyState() {
                    Output.note("sealed version state of \(name): version \(v.version) current, expires \(Output.expiry(v.expires))")
                }
            }
            checks += Doctor.unlocked(unlocked, expectHead: head)
            // A file damaged enough to refuse this row is reported, not a reason to hide the rest.
            do {
                try unlocked.record("doctor", details: ["problems": "\(checks.filter { !$0.ok }.count)"])
            } catch {
                checks += Doctor.refusedOpen(error) ?? [Doctor.failure("audit", "could not record this run: \(error)")]
            }
        } else {
            try vault.recordUnsealed(action: "doctor", details: ["problems": "\(checks.filter { !$0.ok }.count)", "unlocked": "false"])
        }
        report(checks)
        if !checks.allSatisfy(\.ok) { throw ExitCode(ExitStatus.doctorFoundProblems) }
    }

    func report(_ checks: [DoctorCheck]) {
        if json {
            struct Report: Encodable { var ok: Bool; var checks: [DoctorCheck] }
            Output.line(Output.json(Report(ok: checks.allSatisfy(\.ok), checks: checks)))
        } else {
            for c in checks { Output.line("\(c.ok ? "ok  " : "FAIL")  \(c.check.padded(to: 16))  \(c.detail)") }
        }
    }
}
