import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct List: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List stored keys (metadata only; no passphrase needed).",
        discussion: """
            PATTERN is a shell glob over the names (quote it): `vault list 'siem*'`, \
            `vault list '*prod*'`; case-sensitive; a word without * ? [ matches only that name. \
            No match is not an error: nothing is listed (JSON: []) and the exit status is 0, \
            as for an empty vault.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Only names matching this shell glob (e.g. 'siem*').", valueName: "pattern"))
    var pattern: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let vault = try global.openVault()
        let tokens = try vault.list(matching: pattern)
        let now = vault.clock.now()
        if json {
            Output.line(Output.json(tokens.map { TokenView($0, now: now, warnDays: vault.warnDays) }))
            return
        }
        if tokens.isEmpty, let pattern {
            Output.note("no token matches \(Shell.quote(pattern))")
            if !NamePattern.hasGlob(pattern) { Output.hint("for names containing it: \(Shell.command("vault", "list", "*\(pattern)*"))") }
            return
        }
        if tokens.isEmpty { Output.note("no tokens stored; add one with `vault add NAME`"); return }
        // The console key column appears once any token is linked (`vault renew`, `vault sync`).
        let linked = tokens.contains { $0.current.consoleName != nil || $0.current.consoleID != nil }
        Output.table(["NAME", "REGION", "ROLE", "VERSION", "EXPIRES", "DAYS", "STATUS"] + (linked ? ["CONSOLE KEY"] : []), tokens.map { t in
            [t.name, t.metadata.region?.rawValue ?? t.metadata.baseURL, t.metadata.role ?? "-", "\(t.current.version)",
             Output.expiry(t.current.expires), Output.daysLeft(t.current.expires, now: now),
             t.status(now: now, warnDays: vault.warnDays).rawValue]
                + (linked ? [(t.current.consoleName ?? t.current.consoleID ?? "-") + (t.manager ? " (manager)" : "")] : [])
        })
    }
}
