import ArgumentParser
import Foundation
import VaultCore

struct Sync: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Compare the organisation's API keys (all pages) with the vault.",
        discussion: """
            Lists every key of each base URL that has a manager key, and reports: linked and \
            consistent; console expiry or name differs (the console is authoritative: --apply \
            updates the vault); disabled or deleted in the console while current here (the token \
            is dead); a stored token not linked whose name matches a console key (--apply links \
            it); a console key that is in no vault (its value is unrecoverable: a candidate for \
            deletion); a retired version's key still enabled (expected, not drift, during renew's \
            1-day grace period); keys unused for --unused-days. \
            Exit 0 only when nothing drifted, 27 otherwise.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Update expiries and names from the console and make the proposed links (audited).") var apply = false
    @Option(name: .customLong("unused-days"), help: ArgumentHelp("Report stored keys not used for this many days.", valueName: "days"))
    var unusedDays: Int = 90
    @Flag(help: "Print the findings as JSON.") var json = false

    func validate() throws {
        guard (1...3650).contains(unusedDays) else { throw ValidationError("--unused-days must be between 1 and 3650") }
    }

    func run() throws {
        let vault = try global.openVault()
        let report = try global.unlock(vault).sync(apply: apply, unusedDays: unusedDays)
        if json {
            Output.line("{\"console_keys\":\(report.consoleKeys),\"findings\":[" + report.findings.map { f in
                JSONValue.object([("kind", .string(f.kind.rawValue)), ("name", f.name.map { .string($0) } ?? .null),
                                  ("version", f.version.map { .int($0) } ?? .null), ("console_id", f.consoleID.map { .string($0) } ?? .null),
                                  ("console_name", f.consoleName.map { .string($0) } ?? .null), ("base_url", .string(f.baseURL)),
                                  ("vault_expires", .date(f.vaultExpires)), ("console_expires", .date(f.consoleExpires)),
                                  ("last_used", .date(f.lastUsed)), ("applied", .bool(f.applied)), ("in_grace", .bool(f.inGrace)),
                                  ("message", .string(f.message))]).text
            }.joined(separator: ",") + "]}")
        } else {
            Output.table(["FINDING", "TOKEN", "CONSOLE KEY", "CONSOLE ID", "DETAIL"], report.findings.map { f in
                [f.kind.rawValue + (f.applied ? " (applied)" : "") + (f.inGrace ? " (grace)" : ""), f.name.map { "\($0)" + (f.version.map { " v\($0)" } ?? "") } ?? "-",
                 f.consoleName ?? "-", f.consoleID ?? "-", f.message]
            })
            for f in report.findings where f.kind == .dead { Output.warn("\(f.name ?? "?"): \(f.message)") }
            Output.note("\(report.consoleKeys) console key\(report.consoleKeys == 1 ? "" : "s") compared")
        }
        if report.drifted { throw ExitCode(ExitStatus.drifted) }
    }
}
