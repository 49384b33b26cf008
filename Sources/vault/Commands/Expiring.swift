import ArgumentParser
import Foundation
import VaultCore
import VaultFormat

struct Expiring: ParsableCommand, UsesGlobalOptions {
    static let configuration = CommandConfiguration(
        commandName: "expiring",
        abstract: "List keys that have expired or expire soon (for cron and CI monitors).",
        discussion: "Exit 0: nothing due. Exit 10: some expire within the window. Exit 11: at least one has expired. Prints nothing when nothing is due.")

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("A fixed window, e.g. 30d, 2w, 1y (default: each key's own: V1VAULT_WARN_DAYS, 30 days, or a third of its lifetime if less — as list and export warn).", valueName: "duration"))
    var within: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let fixed = try within.map { w throws(VaultError) in try DurationSpec.parse(w) }
        let vault = try global.openVault()
        let now = vault.clock.now()
        // Without --within: each key's own warning window.
        let due = try vault.expiring(within: fixed)
        // Everything returned is due: it has either expired or expires within the window.
        let statuses: [ExpiryStatus] = due.map { $0.current.expires! <= now ? .expired : .expiring }
        if json {
            Output.line(Output.json(zip(due, statuses).map { s, status -> TokenView in
                var v = TokenView(s, now: now, warnDays: vault.warnDays)
                v.status = status
                return v
            }))
        } else if !due.isEmpty {
            Output.table(["NAME", "VERSION", "EXPIRES", "DAYS", "STATUS"], zip(due, statuses).map { t, s in
                [t.name, "\(t.current.version)", Timestamp.iso(t.current.expires!), Output.daysLeft(t.current.expires, now: now), s.rawValue]
            })
        }
        if statuses.contains(.expired) { throw ExitCode(ExitStatus.expired) }
        if !due.isEmpty { throw ExitCode(ExitStatus.expiringSoon) }
    }
}
